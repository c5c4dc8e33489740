-- Exact per-student summaries kept by statement-level triggers, and the alert thresholds.
--
-- Every metric reads app.student_attendance_summary (counts per status) or
-- app.student_attendance_daily (per-date counts, for the trend windows) instead of scanning
-- raw records. The triggers apply each statement's rows set-wise from its transition tables,
-- so marking a class or COPYing a term costs one aggregate, not one update per row.

/** The alert levels (seed defaults). Editable by DBAs; changing one re-runs the at-risk figures. */
create table app.attendance_thresholds (
    level text primary key check (level in ('tasdiq', 'warning', 'mahroom')),
    -- A rate in percent; `inclusive` says whether the level starts at the value or just below it.
    threshold numeric(5, 2) not null check (threshold between 0 and 100),
    inclusive boolean not null,
    -- No alert fires before a student has this many marked periods.
    min_marked_periods integer not null default 10 check (min_marked_periods >= 0),
    description text not null
);

insert into app.attendance_thresholds (level, threshold, inclusive, description) values
('tasdiq', 85, false, 'Below 85 %: a certification (tasdiq) is required.'),
('warning', 80, false, 'Below 80 %: attendance warning.'),
('mahroom', 75, true, 'At or below 75 %: mahroom, barred from exams.');

/** One row per student: counts per status. marked = every status but not_marked. */
create table app.student_attendance_summary (
    student_id uuid primary key references app.students (id) on delete cascade,
    present integer not null default 0 check (present >= 0),
    absent integer not null default 0 check (absent >= 0),
    sick integer not null default 0 check (sick >= 0),
    leave integer not null default 0 check (leave >= 0),
    not_marked integer not null default 0 check (not_marked >= 0),
    marked integer generated always as (present + absent + sick + leave) stored,
    updated_at timestamptz not null default now()
);

/** Per student and date: what the trend windows need (dates with marked periods). */
create table app.student_attendance_daily (
    student_id uuid not null references app.students (id) on delete cascade,
    date date not null,
    present integer not null check (present >= 0),
    marked integer not null check (marked >= 0),
    records integer not null check (records >= 0),
    primary key (student_id, date)
);

-- The trend reads a student's latest dates that have marked periods.
create index student_attendance_daily_marked_idx on app.student_attendance_daily (student_id, date desc)
where marked > 0;

/** Refresh bookkeeping for the analytics materialized views. */
create table analytics.refresh_state (
    view_name text primary key check (view_name in ('class_statistics', 'student_rankings')),
    -- Set by the triggers on the first change after a refresh; cleared when a refresh claims it.
    dirty_since timestamptz,
    last_started_at timestamptz,
    last_finished_at timestamptz,
    last_duration_ms numeric(12, 3)
);

insert into analytics.refresh_state (view_name, dirty_since) values
('class_statistics', now()),
('student_rankings', now());

/**
 * Note that the figures behind the views changed. Only the first change after a refresh
 * writes (the row is left alone while it is already dirty), so writers rarely meet here.
 */
create function analytics.mark_dirty()
    returns void
    language sql
    volatile
    security definer
    set search_path = ''
as $$
    update analytics.refresh_state set dirty_since = statement_timestamp() where dirty_since is null;
$$;

revoke execute on function analytics.mark_dirty() from public;

/** 100 × present ÷ marked, exact to 40 decimal places; null without marked periods. */
create function app.exact_rate(p_present integer, p_marked integer)
    returns numeric
    language sql
    immutable
    parallel safe
as $$
    select case when p_marked > 0 then round(p_present::numeric, 40) * 100 / p_marked end
$$;

/**
 * Round a rate for output (2 decimals, half away from zero). Sums of 40-digit rates are first
 * snapped to 30 digits, so a mean or median that is exactly x.xx5 rounds as the exact value does.
 */
create function app.round_rate(p_rate numeric)
    returns numeric
    language sql
    immutable
    parallel safe
as $$
    select round(round(p_rate, 30), 2)
$$;

/**
 * Apply the attendance rows of one statement to the summaries. The rows arrive as a query
 * over the statement's transition tables (`select student_id, date, status, n`, n = +1 for a
 * new row, -1 for an old one), grouped once per student and once per student-day; an update
 * that changes nothing that is counted cancels out and writes nothing.
 */
create function app.tg_attendance_records__summarise()
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
        with delta as (
            -- A deleted student's rows go with the student (cascade): nothing to count.
            select d.* from (%s) as d
            where exists (select 1 from app.students as s where s.id = d.student_id)
        ),
        per_day as (
            select
                student_id,
                date,
                coalesce(sum(n) filter (where status = 'present'), 0)::integer as present,
                coalesce(sum(n) filter (where status <> 'not_marked'), 0)::integer as marked,
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
                coalesce(sum(n) filter (where status = 'not_marked'), 0)::integer as not_marked
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
                updated_at = statement_timestamp()
            from per_student as d
            where s.student_id = d.student_id
                and (d.present, d.absent, d.sick, d.leave, d.not_marked) <> (0, 0, 0, 0, 0)
            returning s.student_id
        ),
        summary_inserted as (
            insert into app.student_attendance_summary (student_id, present, absent, sick, leave, not_marked)
            select d.student_id, d.present, d.absent, d.sick, d.leave, d.not_marked
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

create trigger _100_summarise_insert
after insert on app.attendance_records
referencing new table as new_rows
for each statement execute function app.tg_attendance_records__summarise();

create trigger _100_summarise_update
after update on app.attendance_records
referencing old table as old_rows new table as new_rows
for each statement execute function app.tg_attendance_records__summarise();

create trigger _100_summarise_delete
after delete on app.attendance_records
referencing old table as old_rows
for each statement execute function app.tg_attendance_records__summarise();

/** TRUNCATE has no transition table: every count goes back to zero. */
create function app.tg_attendance_records__summarise_truncate()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    update app.student_attendance_summary
    set present = 0, absent = 0, sick = 0, leave = 0, not_marked = 0, updated_at = statement_timestamp()
    where marked + not_marked > 0;
    delete from app.student_attendance_daily;
    perform analytics.mark_dirty();
    return null;
end;
$$;

create trigger _100_summarise_truncate
after truncate on app.attendance_records
for each statement execute function app.tg_attendance_records__summarise_truncate();

/** A new student starts with an all-zero summary, so every student has exactly one row. */
create function app.tg_students__create_summary()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    insert into app.student_attendance_summary (student_id)
    select id from new_rows
    on conflict (student_id) do nothing;
    perform analytics.mark_dirty();
    return null;
end;
$$;

create trigger _100_create_summary
after insert on app.students
referencing new table as new_rows
for each statement execute function app.tg_students__create_summary();

/** Class membership, classes and thresholds shape the class figures and rankings. */
create function app.tg__mark_analytics_dirty()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    perform analytics.mark_dirty();
    return null;
end;
$$;

create trigger _100_mark_analytics_dirty
after update of class_id or delete on app.students
for each statement execute function app.tg__mark_analytics_dirty();

create trigger _100_mark_analytics_dirty
after insert or update or delete on app.classes
for each statement execute function app.tg__mark_analytics_dirty();

create trigger _100_mark_analytics_dirty
after insert or update or delete on app.attendance_thresholds
for each statement execute function app.tg__mark_analytics_dirty();

-- Existing data: one summary row per student, and the counts of whatever is already recorded.
insert into app.student_attendance_summary (student_id, present, absent, sick, leave, not_marked)
select
    s.id as student_id,
    count(r.id) filter (where r.status = 'present') as present,
    count(r.id) filter (where r.status = 'absent') as absent,
    count(r.id) filter (where r.status = 'sick') as sick,
    count(r.id) filter (where r.status = 'leave') as leave,
    count(r.id) filter (where r.status = 'not_marked') as not_marked
from app.students as s
left join app.attendance_records as r on s.id = r.student_id
group by s.id;

insert into app.student_attendance_daily (student_id, date, present, marked, records)
select
    student_id,
    date,
    count(*) filter (where status = 'present') as present,
    count(*) filter (where status <> 'not_marked') as marked,
    count(*) as records
from app.attendance_records
group by student_id, date;

alter table app.attendance_thresholds enable row level security;
alter table app.student_attendance_summary enable row level security;
alter table app.student_attendance_daily enable row level security;
alter table analytics.refresh_state enable row level security;

grant select on app.attendance_thresholds, app.student_attendance_summary, app.student_attendance_daily
to authenticated;
grant select on app.attendance_thresholds, app.student_attendance_summary, app.student_attendance_daily
to service_role;

create policy "Everyone signed in reads the thresholds" on app.attendance_thresholds
for select to authenticated
using (true);

create policy "Students read their summary and teachers their classes'" on app.student_attendance_summary
for select to authenticated
using (
    student_id = (select auth.uid())
    or student_id in (
        select s.id from app.students as s
        where s.class_id in (select app.taught_class_ids())
    )
    or (select app.is_admin())
);

create policy "Students read their days and teachers their classes'" on app.student_attendance_daily
for select to authenticated
using (
    student_id = (select auth.uid())
    or student_id in (
        select s.id from app.students as s
        where s.class_id in (select app.taught_class_ids())
    )
    or (select app.is_admin())
);
