-- Class statistics and rankings: one definition (a plain view over the summaries), two uses.
--
-- analytics.*_live compute the figures from app.student_attendance_summary on demand; the
-- materialized views analytics.class_statistics and analytics.student_rankings hold the same
-- rows, refreshed concurrently by pg_cron. Readers use the materialized view once it has been
-- populated and fall back to the live view (filtered to one class) before that.

/**
 * Ranked students per class (those with at least one marked period); ties share a rank.
 *
 * Ranks and percentiles sort on present::float8 / marked. IEEE 754 division is correctly
 * rounded, so equal fractions get equal keys, and two different fractions with denominators
 * below 2^26 differ by at least 1/2^52, more than the rounding of either: the order and the
 * ties are exactly those of the exact rates, at the cost of a float comparison. Only the
 * output rate is computed in exact arithmetic and rounded.
 */
create view analytics.student_rankings_live as
with rated as (
    select
        s.id as student_id,
        s.class_id,
        sm.present,
        sm.marked,
        sm.present::float8 / sm.marked as sort_key
    from app.students as s
    inner join app.student_attendance_summary as sm on s.id = sm.student_id
    where sm.marked > 0
),

ranked as (
    select
        student_id,
        class_id,
        present,
        marked,
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
    app.round_rate(app.exact_rate(present, marked)) as attendance_rate,
    -- percent_rank() over (... order by rate asc) = students below / (n - 1), in exact arithmetic;
    -- students below = n - (rank - 1) - peers.
    case
        when total_students > 1
            then round(100.0 * (total_students - rank + 1 - peers) / (total_students - 1), 1)
        else 0.0
    end as percentile
from ranked;

/** Class figures: every class, with its students counted whether or not they have a rate. */
create view analytics.class_statistics_live as
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
        app.exact_rate(sm.present, sm.marked) as exact_rate
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

create materialized view analytics.student_rankings as
select
    student_id,
    class_id,
    rank,
    total_students,
    attendance_rate,
    percentile
from analytics.student_rankings_live
with no data;

create unique index student_rankings_student_id_key on analytics.student_rankings (student_id);
create index student_rankings_class_rank_idx on analytics.student_rankings (class_id, rank);

create materialized view analytics.class_statistics as
select
    class_id,
    class_name,
    total_students,
    rated_students,
    average_attendance,
    median_attendance,
    highest_attendance,
    lowest_attendance,
    students_at_risk,
    last_calculated
from analytics.class_statistics_live
with no data;

create unique index class_statistics_class_id_key on analytics.class_statistics (class_id);

revoke all on analytics.student_rankings_live, analytics.class_statistics_live,
analytics.student_rankings, analytics.class_statistics from public;
grant usage on schema analytics to service_role;
grant select on analytics.student_rankings, analytics.class_statistics, analytics.refresh_state
to service_role;

/**
 * Refresh both views. Only one refresh runs at a time (advisory lock); with
 * p_only_if_dirty it returns at once, without a transaction of its own, when nothing changed.
 *
 * The claim waits (at most 5 s) for writers already in flight, clears the dirty mark and
 * commits; the refresh runs in a second transaction whose snapshot therefore includes every
 * change made before the claim, and any change after it marks the views dirty again.
 * A procedure with transaction control cannot carry `set search_path`; every name is qualified.
 */
create procedure analytics.run_refresh(p_only_if_dirty boolean)
    language plpgsql
as $$
declare
    c_lock constant bigint := 7245120392;
    v_needed boolean;
    v_started timestamptz;
begin
    if not pg_catalog.pg_try_advisory_lock(c_lock) then
        raise notice 'analytics refresh skipped: another refresh is running';
        return;
    end if;
    select pg_catalog.bool_or(rs.dirty_since is not null or not c.relispopulated)
    into v_needed
    from analytics.refresh_state as rs
    inner join pg_catalog.pg_class as c on c.oid = pg_catalog.to_regclass('analytics.' || rs.view_name);
    if p_only_if_dirty and not coalesce(v_needed, true) then
        perform pg_catalog.pg_advisory_unlock(c_lock);
        return;
    end if;

    begin
        perform pg_catalog.set_config('lock_timeout', '5s', true);
        lock table app.attendance_records, app.students, app.classes, app.attendance_thresholds in share mode;
        update analytics.refresh_state set dirty_since = null, last_started_at = pg_catalog.clock_timestamp();
    exception when lock_not_available then
        perform pg_catalog.pg_advisory_unlock(c_lock);
        raise notice 'analytics refresh skipped: writers held the tables for more than 5 s';
        return;
    end;
    commit;

    begin
        v_started := pg_catalog.clock_timestamp();
        if (select c.relispopulated from pg_catalog.pg_class as c where c.oid = 'analytics.class_statistics'::regclass) then
            refresh materialized view concurrently analytics.class_statistics;
        else
            refresh materialized view analytics.class_statistics;
        end if;
        if (select c.relispopulated from pg_catalog.pg_class as c where c.oid = 'analytics.student_rankings'::regclass) then
            refresh materialized view concurrently analytics.student_rankings;
        else
            refresh materialized view analytics.student_rankings;
        end if;
        update analytics.refresh_state
        set last_finished_at = pg_catalog.clock_timestamp(),
            last_duration_ms = extract(epoch from pg_catalog.clock_timestamp() - v_started) * 1000;
    exception when others then
        perform pg_catalog.pg_advisory_unlock(c_lock);
        raise;
    end;
    commit;
    perform pg_catalog.pg_advisory_unlock(c_lock);
end;
$$;

/** Refresh the analytics views now (pg_cron: every 10 minutes). */
create procedure analytics.refresh()
    language plpgsql
as $$
begin
    call analytics.run_refresh(false);
end;
$$;

/** Refresh the analytics views if attendance changed since the last refresh (pg_cron: every minute). */
create procedure analytics.refresh_if_dirty()
    language plpgsql
as $$
begin
    call analytics.run_refresh(true);
end;
$$;

revoke execute on procedure analytics.run_refresh(boolean), analytics.refresh(), analytics.refresh_if_dirty()
from public;
grant execute on procedure analytics.refresh(), analytics.refresh_if_dirty() to service_role;

select cron.schedule('analytics-refresh-if-dirty', '* * * * *', 'call analytics.refresh_if_dirty()');
select cron.schedule('analytics-refresh', '*/10 * * * *', 'call analytics.refresh()');
select cron.schedule(
    'cron-prune-run-details',
    '30 3 * * *',
    $$delete from cron.job_run_details where end_time < now() - interval '7 days'$$
);
