-- The jobs worker's own login role. It owns nothing: it may read and acknowledge the queues,
-- call the functions that record its work, and read the audit months handed to it for
-- archiving. Created without login (roles are the cluster's); an installation gives it login
-- and a password (`make run` does, from var/secrets.json) and the worker connects with
-- JOBS_DATABASE_URL.

do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'jobs_worker') then
        create role jobs_worker nologin noinherit;
    end if;
end
$$;

grant usage on schema app, audit, audit_archive, pgmq to jobs_worker;

-- pgmq's functions run as their caller: the worker needs the queue tables themselves. Queues
-- created later by the owner get the same through default privileges.
grant select on all tables in schema pgmq to jobs_worker;
grant insert, update, delete on all tables in schema pgmq to jobs_worker;
grant usage, select on all sequences in schema pgmq to jobs_worker;
alter default privileges in schema pgmq grant select, insert, update, delete on tables to jobs_worker;
alter default privileges in schema pgmq grant usage, select on sequences to jobs_worker;
grant execute on all functions in schema pgmq to jobs_worker;

grant execute on function
app.read_jobs(integer, integer, integer, integer),
app.begin_email_deliveries(bigint[]),
app.finish_email_deliveries(bigint[]),
app.fail_email_delivery(bigint, text, boolean),
audit.archive_figures(date),
audit.archive_written(date, text, text, bigint, bigint, timestamptz, timestamptz),
audit.archive_verified(date),
audit.archive_drop(date)
to jobs_worker;
grant select on audit.archives to jobs_worker;

create policy "The jobs worker reads the archives it works on" on audit.archives
for select to jobs_worker
using (true);

-- Months already detached before this migration.
do $$
declare
    v_table text;
begin
    for v_table in select a.partition_name from audit.archives as a where a.state <> 'dropped' loop
        if to_regclass(format('audit_archive.%I', v_table)) is not null then
            execute format('grant select on audit_archive.%I to jobs_worker', v_table);
        end if;
    end loop;
end
$$;

/** audit.detach_for_archive (restated): a detached month is readable by the jobs worker. */
create or replace function audit.detach_for_archive(
    p_threshold bigint default 1000000,
    p_age interval default interval '90 days',
    p_now timestamptz default now()
)
    returns setof date
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    c_lock constant bigint := 7245120395;
    v_rows bigint;
    v_part record;
begin
    if not pg_catalog.pg_try_advisory_xact_lock(c_lock) then
        raise notice 'audit archival skipped: another run is detaching';
        return;
    end if;
    select coalesce(sum(greatest(c.reltuples::bigint, s.n_live_tup, 0)), 0)
    into v_rows
    from pg_catalog.pg_inherits as i
    inner join pg_catalog.pg_class as c on i.inhrelid = c.oid
    left join pg_catalog.pg_stat_all_tables as s on i.inhrelid = s.relid
    where i.inhparent = 'audit.audit_logs'::regclass;
    -- Months an earlier run left unfinished (a worker that kept dying, a full disk) are handed
    -- to the worker again: every step is safe to repeat.
    perform pgmq.send('jobs_low', jsonb_build_object('task', 'audit_archive', 'month', a.month))
    from audit.archives as a
    where a.state <> 'dropped';
    if v_rows <= p_threshold then
        return;
    end if;
    for v_part in
        select
            c.relname,
            to_date(substring(c.relname from '\d{4}m\d{2}$'), 'YYYY"m"MM') as month
        from pg_catalog.pg_inherits as i
        inner join pg_catalog.pg_class as c on i.inhrelid = c.oid
        where i.inhparent = 'audit.audit_logs'::regclass
            and c.relname ~ '^audit_logs_y\d{4}m\d{2}$'
        order by c.relname
    loop
        continue when (v_part.month + interval '1 month') > p_now - p_age;
        execute format('alter table audit.audit_logs detach partition audit.%I', v_part.relname);
        execute format('alter table audit.%I set schema audit_archive', v_part.relname);
        execute format('grant select on audit_archive.%I to jobs_worker', v_part.relname);
        insert into audit.archives (month, partition_name) values (v_part.month, v_part.relname);
        perform pgmq.send('jobs_low', jsonb_build_object('task', 'audit_archive', 'month', v_part.month));
        return next v_part.month;
    end loop;
end;
$$;
