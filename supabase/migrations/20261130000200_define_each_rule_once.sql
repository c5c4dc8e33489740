-- Each rule behind the figures, written once.
--
-- Marked: a period counts towards rates unless its status is not_marked. app.is_marked() says
-- so, and every count of marked periods (the summary's and the daily table's, kept by the
-- triggers; the recount in app.rebuild_attendance_summaries(); the weekly summary) uses it.
-- The summary's `marked` column was a generated sum of four status columns, a second
-- statement of the same rule: it becomes a count the triggers keep.
-- Rates: each student's exact and rounded rate are stored in the summary, computed by
-- app.exact_rate() and app.round_rate() once per write; the views read them instead of calling
-- both functions again for every student at every refresh.
-- Staff: app.is_staff() answers "is the caller a teacher or an admin" for every check.

/** Does a period with this status count towards rates? Every status but not_marked does. */
create function app.is_marked(p_status app.attendance_status)
    returns boolean
    language sql
    immutable
    parallel safe
    set search_path = ''
as $$
    select p_status <> 'not_marked'::app.attendance_status
$$;

/**
 * Is the current user staff (a teacher or an admin)? Security definer: reads staff without RLS.
 * PL/pgSQL, so that its plan is kept for the session (see analytics.is_populated).
 */
create function app.is_staff()
    returns boolean
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    return exists (select 1 from app.staff as s where s.id = auth.uid());
end;
$$;

/**
 * 100 x present / marked, exact to 40 decimal places; null without marked periods. Now PL/pgSQL
 * with a pinned search_path: it runs for every summary row a statement writes (the stored
 * rates below), where a SQL function that cannot be inlined starts an executor per call.
 */
create or replace function app.exact_rate(p_present integer, p_marked integer)
    returns numeric
    language plpgsql
    immutable
    parallel safe
    set search_path = ''
as $$
begin
    return case when p_marked > 0 then round(p_present::numeric, 40) * 100 / p_marked end;
end;
$$;

/**
 * Round a rate for output (2 decimals, half away from zero). Sums of 40-digit rates are first
 * snapped to 30 digits, so a mean or median that is exactly x.xx5 rounds as the exact value does.
 */
create or replace function app.round_rate(p_rate numeric)
    returns numeric
    language plpgsql
    immutable
    parallel safe
    set search_path = ''
as $$
begin
    return round(round(p_rate, 30), 2);
end;
$$;

revoke execute on function app.is_marked(app.attendance_status), app.is_staff() from public;
grant execute on function app.is_marked(app.attendance_status), app.is_staff() to authenticated, service_role;

alter table app.student_attendance_summary alter column marked drop expression;
alter table app.student_attendance_summary alter column marked set default 0;
alter table app.student_attendance_summary
add constraint student_attendance_summary_marked_check check (marked >= 0);
alter table app.student_attendance_summary
add column exact_rate numeric generated always as (app.exact_rate(present, marked)) stored;
alter table app.student_attendance_summary
add column attendance_rate numeric generated always as (app.round_rate(app.exact_rate(present, marked))) stored;

comment on column app.student_attendance_summary.marked is
'Periods that count towards the rate (app.is_marked), kept by the attendance triggers.';
comment on column app.student_attendance_summary.exact_rate is
'100 x present / marked, exact (app.exact_rate); null without marked periods.';
comment on column app.student_attendance_summary.attendance_rate is
'The rate as shown: exact_rate rounded to 2 decimals (app.round_rate).';

/**
 * Apply the attendance rows of one statement to the summaries. The rows arrive as a query
 * over the statement's transition tables (`select student_id, date, status, n`, n = +1 for a
 * new row, -1 for an old one), grouped once per student and once per student-day; an update
 * that changes nothing that is counted cancels out and writes nothing.
 */
create or replace function app.tg_attendance_records__summarise()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
declare
    v_rows text := case tg_op
        when 'INSERT' then 'select student_id, date, status, 1 as n from new_rows'
        when 'DELETE' then 'select student_id, date, status, -1 as n from old_rows'
        else 'select student_id, date, status, 1 as n from new_rows'
            || ' union all select student_id, date, status, -1 as n from old_rows'
    end;
    v_changed bigint;
begin
    -- Lock the students' summary rows in id order first: two statements marking the same
    -- class then queue instead of deadlocking, and every other row they touch is that student's.
    execute format(
        'select count(*) from (select 1 from app.student_attendance_summary'
        ' where student_id in (select d.student_id from (%s) as d) order by student_id for update) as l',
        v_rows
    );
    execute format(
        $sql$
        with statuses as (
            -- is_marked() once per status, not once per record.
            select s.status, app.is_marked(s.status) as counted
            from unnest(enum_range(null::app.attendance_status)) as s (status)
        ),
        delta as (
            -- A deleted student's rows go with the student (cascade): nothing to count.
            select d.student_id, d.date, d.status, d.n, st.counted
            from (%s) as d
            inner join statuses as st on d.status = st.status
            where exists (select 1 from app.students as s where s.id = d.student_id)
        ),
        per_day as (
            select
                student_id,
                date,
                coalesce(sum(n) filter (where status = 'present'), 0)::integer as present,
                coalesce(sum(n) filter (where counted), 0)::integer as marked,
                sum(n)::integer as records
            from delta
            group by student_id, date
        ),
        per_student as (
            select
                student_id,
                coalesce(sum(n) filter (where status = 'present'), 0)::integer as present,
                coalesce(sum(n) filter (where status = 'absent'), 0)::integer as absent,
                coalesce(sum(n) filter (where status = 'sick'), 0)::integer as sick,
                coalesce(sum(n) filter (where status = 'leave'), 0)::integer as leave,
                coalesce(sum(n) filter (where status = 'not_marked'), 0)::integer as not_marked,
                coalesce(sum(n) filter (where counted), 0)::integer as marked
            from delta
            group by student_id
        ),
        -- Deltas update existing rows; only rows that do not exist yet are inserted (CHECK
        -- constraints apply to the proposed row before ON CONFLICT, so a negative delta must
        -- never take the insert path: if it does, the summaries have drifted and it fails loudly).
        daily_updated as (
            update app.student_attendance_daily as t
            set present = t.present + d.present,
                marked = t.marked + d.marked,
                records = t.records + d.records
            from per_day as d
            where t.student_id = d.student_id
                and t.date = d.date
                and (d.present, d.marked, d.records) <> (0, 0, 0)
            returning t.student_id, t.date
        ),
        daily_inserted as (
            insert into app.student_attendance_daily as t (student_id, date, present, marked, records)
            select d.student_id, d.date, d.present, d.marked, d.records
            from per_day as d
            where (d.present, d.marked, d.records) <> (0, 0, 0)
                -- The statement's snapshot predates daily_updated: rows it sees are the updated ones.
                and not exists (
                    select 1 from app.student_attendance_daily as e
                    where e.student_id = d.student_id and e.date = d.date
                )
            order by d.student_id, d.date
            on conflict (student_id, date) do update
            set present = t.present + excluded.present,
                marked = t.marked + excluded.marked,
                records = t.records + excluded.records
            returning t.student_id
        ),
        summary_updated as (
            update app.student_attendance_summary as s
            set present = s.present + d.present,
                absent = s.absent + d.absent,
                sick = s.sick + d.sick,
                leave = s.leave + d.leave,
                not_marked = s.not_marked + d.not_marked,
                marked = s.marked + d.marked,
                updated_at = statement_timestamp()
            from per_student as d
            where s.student_id = d.student_id
                and (d.present, d.absent, d.sick, d.leave, d.not_marked) <> (0, 0, 0, 0, 0)
            returning s.student_id
        ),
        summary_inserted as (
            insert into app.student_attendance_summary (
                student_id, present, absent, sick, leave, not_marked, marked
            )
            select d.student_id, d.present, d.absent, d.sick, d.leave, d.not_marked, d.marked
            from per_student as d
            where (d.present, d.absent, d.sick, d.leave, d.not_marked) <> (0, 0, 0, 0, 0)
                and not exists (select 1 from app.student_attendance_summary as e where e.student_id = d.student_id)
            returning student_id
        )
        select
            (select count(*) from summary_updated)
            + (select count(*) from summary_inserted)
            + (select count(*) from daily_updated)
            + (select count(*) from daily_inserted)
        $sql$,
        v_rows
    ) into v_changed;
    if v_changed > 0 then
        perform analytics.mark_dirty();
    end if;
    return null;
end;
$$;

/** TRUNCATE has no transition table: every count goes back to zero. */
create or replace function app.tg_attendance_records__summarise_truncate()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    update app.student_attendance_summary
    set present = 0, absent = 0, sick = 0, leave = 0, not_marked = 0, marked = 0,
        updated_at = statement_timestamp()
    where marked + not_marked > 0;
    delete from app.student_attendance_daily;
    perform analytics.mark_dirty();
    return null;
end;
$$;

/**
 * Recount every summary and daily row from the records, the same way the triggers count them.
 * For DBAs after a bulk load that bypassed the triggers (session_replication_role = replica,
 * or triggers disabled): writers wait while it runs. Returns the number of students whose
 * summary it corrected.
 */
create function app.rebuild_attendance_summaries()
    returns bigint
    language plpgsql
    volatile
    set search_path = ''
as $$
declare
    v_corrected bigint;
begin
    lock table app.attendance_records in share mode;
    with counts as (
        select
            s.id as student_id,
            count(r.id) filter (where r.status = 'present')::integer as present,
            count(r.id) filter (where r.status = 'absent')::integer as absent,
            count(r.id) filter (where r.status = 'sick')::integer as sick,
            count(r.id) filter (where r.status = 'leave')::integer as leave,
            count(r.id) filter (where r.status = 'not_marked')::integer as not_marked,
            count(r.id) filter (where app.is_marked(r.status))::integer as marked
        from app.students as s
        left join app.attendance_records as r on s.id = r.student_id
        group by s.id
    ),
    corrected as (
        insert into app.student_attendance_summary as t (
            student_id, present, absent, sick, leave, not_marked, marked
        )
        select c.student_id, c.present, c.absent, c.sick, c.leave, c.not_marked, c.marked
        from counts as c
        on conflict (student_id) do update
        set present = excluded.present,
            absent = excluded.absent,
            sick = excluded.sick,
            leave = excluded.leave,
            not_marked = excluded.not_marked,
            marked = excluded.marked,
            updated_at = statement_timestamp()
        where (t.present, t.absent, t.sick, t.leave, t.not_marked, t.marked)
            is distinct from (excluded.present, excluded.absent, excluded.sick, excluded.leave,
                excluded.not_marked, excluded.marked)
        returning 1
    )
    select count(*) into v_corrected from corrected;
    delete from app.student_attendance_daily;
    insert into app.student_attendance_daily (student_id, date, present, marked, records)
    select
        r.student_id,
        r.date,
        count(*) filter (where r.status = 'present'),
        count(*) filter (where app.is_marked(r.status)),
        count(*)
    from app.attendance_records as r
    group by r.student_id, r.date;
    perform analytics.mark_dirty();
    return v_corrected;
end;
$$;

revoke execute on function app.rebuild_attendance_summaries() from public;

comment on function app.rebuild_attendance_summaries() is
'Recount the attendance summaries from the records (after a load that bypassed triggers).';

/**
 * Ranked students per class (those with at least one marked period); ties share a rank.
 *
 * Ranks and percentiles sort on present::float8 / marked. IEEE 754 division is correctly
 * rounded, so equal fractions get equal keys, and two different fractions with denominators
 * below 2^26 differ by at least 1/2^52, more than the rounding of either: the order and the
 * ties are exactly those of the exact rates. The printed rate is the stored, exactly rounded one.
 */
create or replace view analytics.student_rankings_live as
with rated as (
    select
        s.id as student_id,
        s.class_id,
        sm.attendance_rate,
        sm.present::float8 / sm.marked as sort_key
    from app.students as s
    inner join app.student_attendance_summary as sm on s.id = sm.student_id
    where sm.marked > 0
),

ranked as (
    select
        student_id,
        class_id,
        attendance_rate,
        rank() over by_rate as rank,
        -- Students sharing this rate (its peers in the same ordering): no second sort needed.
        count(*) over (by_rate range between current row and current row) as peers,
        count(*) over (partition by class_id) as total_students
    from rated
    window by_rate as (partition by class_id order by sort_key desc)
)

select
    student_id,
    class_id,
    rank,
    total_students,
    attendance_rate,
    -- percent_rank() over (... order by rate asc) = students below / (n - 1), in exact arithmetic;
    -- students below = n - (rank - 1) - peers.
    case
        when total_students > 1
            then round(100.0 * (total_students - rank + 1 - peers) / (total_students - 1), 1)
        else 0.0
    end as percentile
from ranked;

/** Class figures: every class, with its students counted whether or not they have a rate. */
create or replace view analytics.class_statistics_live as
with mahroom as (
    select
        t.threshold,
        t.inclusive
    from app.attendance_thresholds as t
    where t.level = 'mahroom'
),

members as (
    select
        s.id as student_id,
        s.class_id,
        sm.present,
        sm.marked,
        sm.exact_rate
    from app.students as s
    left join app.student_attendance_summary as sm on s.id = sm.student_id
)

select
    c.id as class_id,
    c.name as class_name,
    count(m.student_id) as total_students,
    count(m.exact_rate) as rated_students,
    app.round_rate(avg(m.exact_rate)) as average_attendance,
    -- percentile_cont(0.5) in exact arithmetic: the mean of the lower and upper middle values.
    app.round_rate(
        (
            percentile_disc(0.5) within group (order by m.exact_rate)
            + percentile_disc(0.5) within group (order by m.exact_rate desc)
        ) / 2
    ) as median_attendance,
    app.round_rate(max(m.exact_rate)) as highest_attendance,
    app.round_rate(min(m.exact_rate)) as lowest_attendance,
    -- rate <= threshold (or < when the level is not inclusive), compared without division.
    count(*) filter (
        where m.marked > 0
        and (
            100 * m.present < t.threshold * m.marked
            or (t.inclusive and 100 * m.present = t.threshold * m.marked)
        )
    ) as students_at_risk,
    now() as last_calculated
from app.classes as c
left join members as m on c.id = m.class_id
left join mahroom as t on true
group by c.id, c.name;

/**
 * May the caller see this student's figures? Returns the student's class. The student
 * themselves, a teacher of their class and admins may; anyone else gets 42501, and staff
 * asking for an unknown student get P0002 (students never learn whether an id exists).
 */
create or replace function app.authorize_student(p_student_id uuid)
    returns uuid
    language plpgsql
    stable
    security invoker
    set search_path = ''
as $$
declare
    v_caller uuid := auth.uid();
    v_class uuid;
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
    if not app.is_staff() then
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
create or replace function app.authorize_class(p_class_id uuid)
    returns void
    language plpgsql
    stable
    security invoker
    set search_path = ''
as $$
begin
    if auth.uid() is null then
        raise exception using errcode = '28000', message = 'no authenticated user';
    end if;
    if p_class_id is null then
        raise exception using errcode = '22004', message = 'class_id is required';
    end if;
    if p_class_id = app.my_class_id() then
        return;
    end if;
    if not app.is_staff() then
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

/** Every ranked student of a class, best first: for its teachers and admins. */
create or replace function api.class_rankings(class_id uuid)
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    perform app.authorize_class(class_rankings.class_id);
    if not app.is_staff() then
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

/** StudentDashboardMetrics for a student the caller may see. */
create or replace function api.student_dashboard(student_id uuid)
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
        'attendanceRate', v_sum.attendance_rate,
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

/** One ISO week of a student's records by day and period, with that week's summary. */
create or replace function api.weekly_attendance(week text, student_id uuid)
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
        select r.date, r.period, r.subject, r.status, r.marked_at, app.is_marked(r.status) as counted
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
                'totalClasses', count(*) filter (where r.counted),
                'presentDays', count(*) filter (where r.status = 'present'),
                'absentDays', count(*) filter (where r.status = 'absent'),
                'sickDays', count(*) filter (where r.status = 'sick'),
                'leaveDays', count(*) filter (where r.status = 'leave'),
                'notMarked', count(*) filter (where r.status = 'not_marked'),
                'attendanceRate', app.round_rate(app.exact_rate(
                    (count(*) filter (where r.status = 'present'))::integer,
                    (count(*) filter (where r.counted))::integer
                ))
            )
            from records as r
        )
    ) into v_result;
    return v_result;
end;
$$;
