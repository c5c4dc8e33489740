-- What Supabase's Security and Performance Advisors ask of the schema (`supabase db advisors`).
--
-- 1. Every function pins search_path to '' (lint 0011). The remaining ones were two dashboard
--    helpers and the audit log's triggers; their bodies already name every object by schema.
--    A pinned path costs about 1.5 us per call here. The rate helpers were rewritten with a
--    pinned path by the previous migration; the views read stored rates instead of calling
--    them per student, so no refresh pays for it.
-- 2. pg_cron lives in pg_catalog, as on Supabase, not in public (lint 0014). An extension that
--    is not relocatable moves only by being dropped and created again: every job is kept and
--    scheduled again under its name, database, user and active flag; the run history
--    (cron.job_run_details) starts afresh.
-- 3. Internal plumbing leaves the schema PostgREST exposes: api.authorize_admin() becomes
--    app.authorize_admin(), which api.audit_logs() now calls (and, restated for that, it answers
--    a range that ends before it starts with an empty page instead of an error).
-- 4. Each security definer function in api says why it runs as its owner.

alter function app.caller_student_id() set search_path = '';
alter function app.student_trend(uuid) set search_path = '';
alter function audit.tg_audit_logs__immutable() set search_path = '';
alter function audit.tg_audit_logs__no_truncate() set search_path = '';

do $$
declare
    v_job record;
    v_id bigint;
begin
    if (select e.extnamespace from pg_catalog.pg_extension as e where e.extname = 'pg_cron')
        = 'pg_catalog'::regnamespace
    then
        return;
    end if;
    create temporary table saved_cron_jobs on commit drop as
    select j.jobid, j.jobname, j.schedule, j.command, j.database, j.username, j.active from cron.job as j;
    drop extension pg_cron;
    create extension pg_cron with schema pg_catalog;
    for v_job in select * from saved_cron_jobs order by jobid loop
        if v_job.jobname is null then
            v_id := cron.schedule(v_job.schedule, v_job.command);
            perform cron.alter_job(
                v_id, database => v_job.database, username => v_job.username, active => v_job.active
            );
        else
            -- Named in its owner's name: jobs of one name but different users stay apart.
            perform cron.schedule_in_database(
                v_job.jobname, v_job.schedule, v_job.command, v_job.database, v_job.username, v_job.active
            );
        end if;
    end loop;
end
$$;

/** Refuse (42501) unless the caller is an admin: for admin actions that live outside the database. */
create function app.authorize_admin()
    returns void
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    if auth.uid() is null then
        raise exception using errcode = '28000', message = 'no authenticated user';
    end if;
    if not app.is_admin() then
        raise exception using errcode = '42501', message = 'only admins may do this';
    end if;
end;
$$;

revoke execute on function app.authorize_admin() from public;
grant execute on function app.authorize_admin() to authenticated;

/**
 * A page of audit entries, newest first, with the seed's filters; admins only. Returns
 * {entries, total, limit, offset}. A range whose start is after its end holds no entry: an
 * empty page, not an error (a client cannot tell such a range from any other by its format).
 */
create or replace function api.audit_logs(
    user_id uuid default null,
    action text default null,
    from_time timestamptz default null,
    to_time timestamptz default null,
    success boolean default null,
    page_limit integer default 50,
    page_offset integer default 0
)
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_result jsonb;
begin
    perform app.authorize_admin();
    if page_limit is null or page_limit not between 1 and 500 then
        raise exception using errcode = '22023', message = 'limit must be between 1 and 500';
    end if;
    if page_offset is null or page_offset < 0 then
        raise exception using errcode = '22023', message = 'offset must not be negative';
    end if;
    with matching as (
        select l.*
        from audit.audit_logs as l
        where (audit_logs.user_id is null or l.user_id = audit_logs.user_id)
            and (audit_logs.action is null or l.action = audit_logs.action)
            and (from_time is null or l.timestamp >= from_time)
            and (to_time is null or l.timestamp <= to_time)
            and (audit_logs.success is null or l.success = audit_logs.success)
    ),
    page as (
        select m.* from matching as m
        order by m.timestamp desc, m.id
        limit page_limit offset page_offset
    )
    select jsonb_build_object(
        'entries', coalesce(
            (
                select jsonb_agg(
                    jsonb_build_object(
                        'id', p.id,
                        'userId', p.user_id,
                        'action', p.action,
                        'resource', p.resource,
                        'resourceId', p.resource_id,
                        'metadata', p.metadata,
                        'ipAddress', host(p.ip_address),
                        'userAgent', p.user_agent,
                        'timestamp', p.timestamp,
                        'success', p.success,
                        'errorMessage', p.error_message
                    )
                    order by p.timestamp desc, p.id
                )
                from page as p
            ),
            '[]'::jsonb
        ),
        'total', (select count(*) from matching),
        'limit', page_limit,
        'offset', page_offset
    ) into v_result;
    return v_result;
end;
$$;

drop function api.authorize_admin();

comment on function api.student_dashboard(uuid) is
'StudentDashboardMetrics of one student: for that student, teachers of their class and admins. '
'Runs as its owner: the class average and rank come from materialized views, which cannot carry '
'row-level security, so the function checks the caller first.';
comment on function api.student_dashboard() is
'StudentDashboardMetrics of the calling student: totalClasses, attendanceRate, presentDays, absentDays, '
'sickDays, leaveDays, notMarked, classAverage, ranking, trend, lastUpdated and freshness. '
'Runs as its owner for the same reason as student_dashboard(uuid).';
comment on function api.student_ranking(uuid) is
'StudentRanking (rank, totalStudents, percentile, attendanceRate) of one student the caller may see. '
'Runs as its owner: rankings come from a materialized view, which cannot carry row-level security, '
'so the function checks the caller first.';
comment on function api.student_ranking() is
'StudentRanking of the calling student within their class: rank, totalStudents, percentile, attendanceRate. '
'Runs as its owner for the same reason as student_ranking(uuid).';
comment on function api.class_statistics(uuid) is
'ClassStatistics: students see their own class, teachers the classes they teach, admins every class. '
'Runs as its owner: the figures aggregate classmates a student may not read, from a materialized view, '
'which cannot carry row-level security, so the function checks the caller first.';
comment on function api.class_statistics() is
'ClassStatistics of the calling student''s class. Runs as its owner for the same reason as '
'class_statistics(uuid).';
comment on function api.class_rankings(uuid) is
'Ranked students of a class (studentId, name, rank, totalStudents, percentile, attendanceRate): staff only. '
'Runs as its owner: rankings come from a materialized view, which cannot carry row-level security, '
'so the function checks the caller first.';
comment on function api.weekly_attendance(text, uuid) is
'One ISO week (YYYY-Www) of a student''s records by day and period, with the week''s summary. '
'Runs as its owner so that one rule decides who sees a student (as for the dashboard): a teacher of '
'the student''s class sees the whole week, periods held in a former class included, which row-level '
'security on the records (by the class that held each period) would hide.';
comment on function api.weekly_attendance(text) is
'The calling student''s records for one ISO week (YYYY-Www) by day and period, with its summary. '
'Runs as its owner for the same reason as weekly_attendance(text, uuid).';
comment on function api.audit_logs(uuid, text, timestamptz, timestamptz, boolean, integer, integer) is
'Admins: audit entries newest first, filtered by user, action, time range and success, paginated. '
'Runs as its owner: no client role may read the append-only audit log itself, so the function '
'checks that the caller is an admin first.';
