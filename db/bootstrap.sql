-- Supabase-compatibility bootstrap for plain Postgres.
--
-- On Supabase every object below already exists and each statement is skipped. On a plain
-- server it creates the roles and auth helpers the migrations rely on, so the same migration
-- history runs on both. Safe to run any number of times.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    -- The login role of the edge and of PostgREST: it owns nothing and may only switch to
    -- the three API roles, exactly as PostgREST does with `set local role`.
    if not exists (select 1 from pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
    end if;
end
$$;

do $$
declare
    api_role text;
begin
    foreach api_role in array array['anon', 'authenticated', 'service_role'] loop
        if not pg_has_role('authenticator', api_role, 'member') then
            execute format('grant %I to authenticator', api_role);
        end if;
    end loop;
end
$$;

create schema if not exists auth;

do $$
begin
    if not has_schema_privilege('authenticated', 'auth', 'usage') then
        grant usage on schema auth to anon, authenticated, service_role;
    end if;
end
$$;

do $$
begin
    if to_regprocedure('auth.uid()') is null then
        /** Current user's id from the PostgREST / Supabase JWT claims. */
        create function auth.uid()
            returns uuid
            language sql
            stable
        as $fn$
            select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
        $fn$;
    end if;
    if to_regprocedure('auth.role()') is null then
        /** Role claim of the current request (anon, authenticated, service_role). */
        create function auth.role()
            returns text
            language sql
            stable
        as $fn$
            select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', '')::text
        $fn$;
    end if;
    if to_regprocedure('auth.jwt()') is null then
        /** All claims of the current request as jsonb. */
        create function auth.jwt()
            returns jsonb
            language sql
            stable
        as $fn$
            select coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
        $fn$;
    end if;
end
$$;

do $$
declare
    fn text;
begin
    foreach fn in array array['auth.uid()', 'auth.role()', 'auth.jwt()'] loop
        if not has_function_privilege('authenticated', fn, 'execute') then
            execute format('grant execute on function %s to anon, authenticated, service_role', fn);
        end if;
    end loop;
end
$$;
