-- The dashboard's numbers as api functions: one definition of every metric (SPEC section 4),
-- shared by the edge and by PostgREST clients.
--
-- The functions are security definer because class figures need classmates' summaries that a
-- student may not read; each one therefore checks who may see what before reading anything.
-- Errors carry SQLSTATEs the edge maps to HTTP: 22023/22007 -> 400, 42501 -> 403, P0002 -> 404.

/**
 * May the caller see this student's figures? Returns the student's class. The student
 * themselves, a teacher of their class and admins may; anyone else gets 42501, and staff
 * asking for an unknown student get P0002 (students never learn whether an id exists).
 */
create function app.authorize_student(p_student_id uuid)
    returns uuid
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_caller uuid := auth.uid();
    v_class uuid;
    v_staff boolean;
begin
    if v_caller is null then
        raise exception using errcode = '28000', message = 'no authenticated user';
    end if;
    if p_student_id is null then
        raise exception using errcode = '22004', message = 'student_id is required';
    end if;
    select s.class_id into v_class from app.students as s where s.id = p_student_id;
    if found and p_student_id = v_caller then
        return v_class;
    end if;
    v_staff := exists (select 1 from app.staff as st where st.id = v_caller);
    if not v_staff then
        raise exception using errcode = '42501', message = 'students may only see their own figures';
    end if;
    if v_class is null then
        raise exception using errcode = 'P0002', message = format('student %s does not exist', p_student_id);
    end if;
    if not app.is_admin() and not v_class in (select app.taught_class_ids()) then
        raise exception using
            errcode = '42501',
            message = format('only teachers of class %s and admins may see this student', v_class);
    end if;
    return v_class;
end;
$$;

/** May the caller see this class's figures? Its students, its teachers and admins may. */
create function app.authorize_class(p_class_id uuid)
    returns void
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_caller uuid := auth.uid();
begin
    if v_caller is null then
        raise exception using errcode = '28000', message = 'no authenticated user';
    end if;
    if p_class_id is null then
        raise exception using errcode = '22004', message = 'class_id is required';
    end if;
    if p_class_id = app.my_class_id() then
        return;
    end if;
    if not exists (select 1 from app.staff as st where st.id = v_caller) then
        raise exception using errcode = '42501', message = 'students may only see their own class';
    end if;
    if not exists (select 1 from app.classes as c where c.id = p_class_id) then
        raise exception using errcode = 'P0002', message = format('class %s does not exist', p_class_id);
    end if;
    if not app.is_admin() and not p_class_id in (select app.taught_class_ids()) then
        raise exception using
            errcode = '42501',
            message = format('only teachers of class %s and admins may see its figures', p_class_id);
    end if;
end;
$$;

/** The caller as a student; other callers have no dashboard of their own. */
create function app.caller_student_id()
    returns uuid
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_id uuid;
begin
    if auth.uid() is null then
        raise exception using errcode = '28000', message = 'no authenticated user';
    end if;
    select s.id into v_id from app.students as s where s.id = auth.uid();
    if v_id is null then
        raise exception using
            errcode = '42501',
            message = 'only students have figures of their own; staff pass a student_id';
    end if;
    return v_id;
end;
$$;

/** Rankings of one class: from the materialized view once populated, else computed live. */
create function analytics.class_rankings(p_class_id uuid)
    returns setof analytics.student_rankings_live
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    if (select c.relispopulated from pg_catalog.pg_class as c where c.oid = 'analytics.student_rankings'::regclass) then
        return query
        select r.student_id, r.class_id, r.rank, r.total_students, r.attendance_rate, r.percentile
        from analytics.student_rankings as r where r.class_id = p_class_id;
    else
        return query
        select r.student_id, r.class_id, r.rank, r.total_students, r.attendance_rate, r.percentile
        from analytics.student_rankings_live as r where r.class_id = p_class_id;
    end if;
end;
$$;

/** Figures of one class: from the materialized view once populated, else computed live. */
create function analytics.class_figures(p_class_id uuid)
    returns setof analytics.class_statistics_live
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    if (select c.relispopulated from pg_catalog.pg_class as c where c.oid = 'analytics.class_statistics'::regclass) then
        return query select * from analytics.class_statistics as cs where cs.class_id = p_class_id;
    else
        return query select * from analytics.class_statistics_live as cs where cs.class_id = p_class_id;
    end if;
end;
$$;

/**
 * Where class figures come from and how fresh they are: source view or live; when the views
 * were last refreshed; whether a refresh is running or changes are waiting; stale when the
 * views are older than their 10-minute bound or being refreshed.
 */
create function analytics.freshness()
    returns jsonb
    language sql
    stable
    security definer
    set search_path = ''
as $$
    with state as (
        select
            bool_and(c.relispopulated) as populated,
            min(rs.last_finished_at) as refreshed_at,
            bool_or(rs.last_started_at > coalesce(rs.last_finished_at, '-infinity')) as refreshing,
            bool_or(rs.dirty_since is not null) as pending
        from analytics.refresh_state as rs
        inner join pg_catalog.pg_class as c on c.oid = pg_catalog.to_regclass('analytics.' || rs.view_name)
    )
    select jsonb_build_object(
        'source', case when populated then 'view' else 'live' end,
        'refreshedAt', case when populated then refreshed_at end,
        'ageSeconds', case when populated then round(extract(epoch from now() - refreshed_at)) end,
        'refreshing', coalesce(refreshing, false),
        'pendingChanges', coalesce(pending, false),
        -- A populated view with no recorded refresh is of unknown age: stale.
        'stale', populated and (
            coalesce(refreshing, false) or coalesce(refreshed_at < now() - interval '10 minutes', true)
        )
    )
    from state
$$;

/**
 * improving, declining or stable: the rate over the student's latest 14 dates with marked
 * periods against the 14 before them; a difference of 5 points or more either way counts.
 */
create function app.student_trend(p_student_id uuid)
    returns text
    language sql
    stable
    security definer
    set search_path = ''
as $$
    with latest as (
        select d.present, d.marked, row_number() over (order by d.date desc) as n
        from app.student_attendance_daily as d
        where d.student_id = p_student_id and d.marked > 0
        order by d.date desc
        limit 28
    ),
    windows as (
        select
            sum(present) filter (where n <= 14) as p1,
            sum(marked) filter (where n <= 14) as m1,
            sum(present) filter (where n > 14) as p2,
            sum(marked) filter (where n > 14) as m2
        from latest
    )
    select case
        when m1 is null or m2 is null then 'stable'
        -- 100 * (p1/m1 - p2/m2) compared with +-5 in integers, so no rounding decides a trend.
        when 100 * (p1 * m2 - p2 * m1) >= 5 * m1 * m2 then 'improving'
        when 100 * (p1 * m2 - p2 * m1) <= -5 * m1 * m2 then 'declining'
        else 'stable'
    end
    from windows
$$;

/** The Monday of an ISO week written YYYY-Www; 22007 when it does not parse, 22023 when it does not exist. */
create function app.iso_week_start(p_week text)
    returns date
    language plpgsql
    immutable
    set search_path = ''
as $$
declare
    v_year integer;
    v_week integer;
    v_weeks integer;
    v_jan4 date;
begin
    if p_week is null or p_week !~ '^[0-9]{4}-W[0-9]{2}$' then
        raise exception using
            errcode = '22007',
            message = format('week must be an ISO week such as 2026-W07, got %s', coalesce(p_week, 'null'));
    end if;
    v_year := substr(p_week, 1, 4)::integer;
    v_week := substr(p_week, 7, 2)::integer;
    if v_year < 1 then
        raise exception using errcode = '22023', message = format('week %s does not exist', p_week);
    end if;
    v_weeks := extract(week from make_date(v_year, 12, 28))::integer;
    if v_week not between 1 and v_weeks then
        raise exception using
            errcode = '22023',
            message = format('week %s does not exist: %s has %s ISO weeks', p_week, v_year, v_weeks);
    end if;
    v_jan4 := make_date(v_year, 1, 4);
    return v_jan4 - (extract(isodow from v_jan4)::integer - 1) + (v_week - 1) * 7;
end;
$$;

/** StudentDashboardMetrics for a student the caller may see. */
create function api.student_dashboard(student_id uuid)
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_class uuid := app.authorize_student(student_dashboard.student_id);
    v_sum app.student_attendance_summary;
    v_rank bigint;
    v_class_average numeric;
begin
    select * into v_sum from app.student_attendance_summary as sm where sm.student_id = student_dashboard.student_id;
    select r.rank into v_rank from analytics.class_rankings(v_class) as r where r.student_id = student_dashboard.student_id;
    select f.average_attendance into v_class_average from analytics.class_figures(v_class) as f;
    return jsonb_build_object(
        'studentId', student_dashboard.student_id,
        'classId', v_class,
        'totalClasses', coalesce(v_sum.marked, 0),
        'attendanceRate', app.round_rate(app.exact_rate(v_sum.present, v_sum.marked)),
        'presentDays', coalesce(v_sum.present, 0),
        'absentDays', coalesce(v_sum.absent, 0),
        'sickDays', coalesce(v_sum.sick, 0),
        'leaveDays', coalesce(v_sum.leave, 0),
        'notMarked', coalesce(v_sum.not_marked, 0),
        'classAverage', v_class_average,
        'ranking', v_rank,
        'trend', app.student_trend(student_dashboard.student_id),
        'lastUpdated', coalesce(v_sum.updated_at, now()),
        'freshness', analytics.freshness()
    );
end;
$$;

comment on function api.student_dashboard(uuid) is
'StudentDashboardMetrics of one student: for that student, teachers of their class and admins.';

/** The caller's own dashboard. */
create function api.student_dashboard()
    returns jsonb
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select api.student_dashboard(app.caller_student_id())
$$;

comment on function api.student_dashboard() is
'StudentDashboardMetrics of the calling student: totalClasses, attendanceRate, presentDays, absentDays, '
'sickDays, leaveDays, classAverage, ranking, trend, lastUpdated and freshness.';

/** StudentRanking for a student the caller may see; rank and percentile are null without a rate. */
create function api.student_ranking(student_id uuid)
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_class uuid := app.authorize_student(student_ranking.student_id);
    v_row record;
    v_total bigint;
begin
    select r.rank, r.total_students, r.percentile, r.attendance_rate into v_row
    from analytics.class_rankings(v_class) as r
    where r.student_id = student_ranking.student_id;
    select count(*) into v_total from analytics.class_rankings(v_class);
    return jsonb_build_object(
        'studentId', student_ranking.student_id,
        'classId', v_class,
        'rank', v_row.rank,
        'totalStudents', coalesce(v_row.total_students, v_total),
        'percentile', v_row.percentile,
        'attendanceRate', v_row.attendance_rate,
        'freshness', analytics.freshness()
    );
end;
$$;

comment on function api.student_ranking(uuid) is
'StudentRanking (rank, totalStudents, percentile, attendanceRate) of one student the caller may see.';

create function api.student_ranking()
    returns jsonb
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select api.student_ranking(app.caller_student_id())
$$;

comment on function api.student_ranking() is
'StudentRanking of the calling student within their class: rank, totalStudents, percentile, attendanceRate.';

/** ClassStatistics of a class the caller may see. */
create function api.class_statistics(class_id uuid)
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_row record;
begin
    perform app.authorize_class(class_statistics.class_id);
    select * into v_row from analytics.class_figures(class_statistics.class_id);
    return jsonb_build_object(
        'classId', v_row.class_id,
        'className', v_row.class_name,
        'totalStudents', v_row.total_students,
        'averageAttendance', v_row.average_attendance,
        'medianAttendance', v_row.median_attendance,
        'highestAttendance', v_row.highest_attendance,
        'lowestAttendance', v_row.lowest_attendance,
        'studentsAtRisk', v_row.students_at_risk,
        'lastCalculated', v_row.last_calculated,
        'freshness', analytics.freshness()
    );
end;
$$;

comment on function api.class_statistics(uuid) is
'ClassStatistics: students see their own class, teachers the classes they teach, admins every class.';

create function api.class_statistics()
    returns jsonb
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select api.class_statistics(app.authorize_student(app.caller_student_id()))
$$;

comment on function api.class_statistics() is 'ClassStatistics of the calling student''s class.';

/** Every ranked student of a class, best first: for its teachers and admins. */
create function api.class_rankings(class_id uuid)
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    perform app.authorize_class(class_rankings.class_id);
    if not exists (select 1 from app.staff as st where st.id = auth.uid()) then
        raise exception using errcode = '42501', message = 'only staff may see a class''s rankings';
    end if;
    return jsonb_build_object(
        'classId', class_rankings.class_id,
        'rankings', coalesce(
            (
                select jsonb_agg(
                    jsonb_build_object(
                        'studentId', r.student_id,
                        'name', s.name,
                        'rank', r.rank,
                        'totalStudents', r.total_students,
                        'percentile', r.percentile,
                        'attendanceRate', r.attendance_rate
                    )
                    order by r.rank, s.name
                )
                from analytics.class_rankings(class_rankings.class_id) as r
                inner join app.students as s on r.student_id = s.id
            ),
            '[]'::jsonb
        ),
        'freshness', analytics.freshness()
    );
end;
$$;

comment on function api.class_rankings(uuid) is
'Ranked students of a class (studentId, name, rank, totalStudents, percentile, attendanceRate): staff only.';

/** One ISO week of a student's records by day and period, with that week's summary. */
create function api.weekly_attendance(week text, student_id uuid)
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_monday date := app.iso_week_start(week);
    v_result jsonb;
begin
    perform app.authorize_student(weekly_attendance.student_id);
    with records as (
        select r.date, r.period, r.subject, r.status, r.marked_at
        from app.attendance_records as r
        where r.student_id = weekly_attendance.student_id
            and r.date between v_monday and v_monday + 6
    ),
    days as (
        select d::date as date
        from generate_series(v_monday, v_monday + 6, interval '1 day') as d
        where extract(isodow from d) <= 5 or exists (select 1 from records as r where r.date = d::date)
    )
    select jsonb_build_object(
        'studentId', weekly_attendance.student_id,
        'week', week,
        'startDate', v_monday,
        'endDate', v_monday + 6,
        'days', (
            select jsonb_agg(
                jsonb_build_object(
                    'date', days.date,
                    'dayOfWeek', extract(isodow from days.date)::integer,
                    'periods', coalesce(
                        (
                            select jsonb_agg(
                                jsonb_build_object(
                                    'period', r.period, 'subject', r.subject,
                                    'status', r.status, 'markedAt', r.marked_at
                                )
                                order by r.period
                            )
                            from records as r where r.date = days.date
                        ),
                        '[]'::jsonb
                    )
                )
                order by days.date
            )
            from days
        ),
        'summary', (
            select jsonb_build_object(
                'totalClasses', count(*) filter (where r.status <> 'not_marked'),
                'presentDays', count(*) filter (where r.status = 'present'),
                'absentDays', count(*) filter (where r.status = 'absent'),
                'sickDays', count(*) filter (where r.status = 'sick'),
                'leaveDays', count(*) filter (where r.status = 'leave'),
                'notMarked', count(*) filter (where r.status = 'not_marked'),
                'attendanceRate', app.round_rate(app.exact_rate(
                    (count(*) filter (where r.status = 'present'))::integer,
                    (count(*) filter (where r.status <> 'not_marked'))::integer
                ))
            )
            from records as r
        )
    ) into v_result;
    return v_result;
end;
$$;

comment on function api.weekly_attendance(text, uuid) is
'One ISO week (YYYY-Www) of a student''s records by day and period, with the week''s summary.';

create function api.weekly_attendance(week text)
    returns jsonb
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select api.weekly_attendance(week, app.caller_student_id())
$$;

comment on function api.weekly_attendance(text) is
'The calling student''s records for one ISO week (YYYY-Www) by day and period, with its summary.';

revoke execute on function
app.authorize_student(uuid), app.authorize_class(uuid), app.caller_student_id(),
analytics.class_rankings(uuid), analytics.class_figures(uuid), analytics.freshness(),
app.student_trend(uuid), api.student_dashboard(uuid), api.student_dashboard(),
api.student_ranking(uuid), api.student_ranking(), api.class_statistics(uuid), api.class_statistics(),
api.class_rankings(uuid), api.weekly_attendance(text, uuid), api.weekly_attendance(text)
from public;

grant execute on function
api.student_dashboard(uuid), api.student_dashboard(), api.student_ranking(uuid), api.student_ranking(),
api.class_statistics(uuid), api.class_statistics(), api.class_rankings(uuid),
api.weekly_attendance(text, uuid), api.weekly_attendance(text)
to authenticated;
