-- Who functions run as: every function of ours pins its search_path to ''; the dashboard's
-- internal helpers run as their caller and are closed to every client role; nothing internal
-- sits in the schema PostgREST exposes.

begin;
select plan(6);

create temporary table dashboard_helpers on commit drop as
select unnest(array[
    'app.caller_student_id()', 'app.authorize_student(uuid)', 'app.authorize_class(uuid)',
    'analytics.class_rankings(uuid)', 'analytics.class_figures(uuid)',
    'app.student_trend(uuid)', 'analytics.freshness()'
]::regprocedure[]) as oid;

select is(
    (
        select coalesce(string_agg(p.oid::regprocedure::text, ', ' order by p.oid::regprocedure::text), '')
        from pg_proc as p
        inner join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname in ('app', 'api', 'analytics', 'audit', 'audit_archive')
            and not coalesce(p.proconfig, '{}') && array['search_path=""']
    ),
    '',
    'every function and procedure of ours sets search_path to the empty string'
);

select is(
    (
        select coalesce(string_agg(p.oid::regprocedure::text, ', ' order by p.oid::regprocedure::text), '')
        from pg_proc as p
        inner join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname = 'api' and p.proname like 'authorize%'
    ),
    '',
    'no authorization plumbing in the exposed api schema'
);

select is(
    (select e.extnamespace::regnamespace::text from pg_extension as e where e.extname = 'pg_cron'),
    'pg_catalog',
    'pg_cron lives in pg_catalog, not in public'
);

select is(
    (
        select count(*)::integer
        from dashboard_helpers as f
        inner join pg_proc as p on p.oid = f.oid
        where not p.prosecdef
    ),
    7,
    'the seven dashboard helpers run as their caller'
);

select is(
    (
        select count(*)::integer
        from dashboard_helpers as f
        cross join unnest(array['anon', 'authenticated', 'authenticator', 'service_role']) as r (role)
        where has_function_privilege(r.role, f.oid, 'execute')
    ),
    0,
    'and no client role may call them'
);

select is(
    (
        select count(*)::integer
        from unnest(array[
            'api.student_dashboard()', 'api.student_dashboard(uuid)', 'api.student_ranking()',
            'api.class_statistics()', 'api.weekly_attendance(text)'
        ]::regprocedure[]) as f (oid)
        inner join pg_proc as p on p.oid = f.oid
        where p.prosecdef and p.prolang = (select l.oid from pg_language as l where l.lanname = 'plpgsql')
    ),
    5,
    'the api functions that call them are security definer, in PL/pgSQL (plans kept per session)'
);

select * from finish();
rollback;
