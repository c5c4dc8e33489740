-- Threshold alerts, notifications and their delivery.
--
-- A student's alert level is the deepest level (tasdiq, warning, mahroom) whose threshold
-- their exact rate falls in, once they have the level's minimum of marked periods. A level is
-- raised once, when the rate first enters it: app.student_alert_state remembers the level the
-- student was last told about, and a rate that climbs back out re-arms the level by lowering
-- that state without a word. One drop across several levels raises only the deepest one (a
-- mahroom alert says everything a warning would). A fourth alert, consecutive_absence, fires
-- once per streak of N school days on which every marked period was `absent`.
--
-- app.apply_alerts() is the one function that raises alerts. The attendance triggers call it
-- for the students of each statement (so mahroom is immediate), and app.check_alerts() calls
-- it hourly from pg_cron for every student whose stored state disagrees with their counts.
-- It locks the students' state rows before it reads their counts, in a later statement: a
-- writer of attendance holds the student's summary row until it commits and reaches the state
-- row after that, so every decision is taken from counts and a state that belong together,
-- and two callers never raise the same alert twice.
--
-- Raising an alert creates a notification, one delivery row per channel the student's
-- preferences allow (P37), an outbox event for open streams (in-app) and a pgmq message for
-- the jobs worker (email), all in the transaction of the change that caused it.

/** Thresholds must stay meaningful: a rate in 0..100, and the levels nested. */
alter table app.attendance_thresholds
rename constraint attendance_thresholds_threshold_check to attendance_thresholds_rate_between_0_and_100;

/**
 * The three levels exist and nest: tasdiq at or above warning, warning at or above mahroom.
 * Deferred to commit, so a DBA moves all three in one transaction.
 */
create function app.tg_attendance_thresholds__check_order()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
declare
    v_tasdiq numeric;
    v_warning numeric;
    v_mahroom numeric;
begin
    select
        max(t.threshold) filter (where t.level = 'tasdiq'),
        max(t.threshold) filter (where t.level = 'warning'),
        max(t.threshold) filter (where t.level = 'mahroom')
    into v_tasdiq, v_warning, v_mahroom
    from app.attendance_thresholds as t;
    if v_tasdiq is null or v_warning is null or v_mahroom is null then
        raise exception using
            errcode = '23514',
            constraint = 'attendance_thresholds_three_levels',
            message = 'attendance_thresholds_three_levels: tasdiq, warning and mahroom must each have a row';
    end if;
    if not (v_tasdiq >= v_warning and v_warning >= v_mahroom) then
        raise exception using
            errcode = '23514',
            constraint = 'attendance_thresholds_levels_nested',
            message = format(
                'attendance_thresholds_levels_nested: tasdiq (%s) must be at or above warning (%s), '
                'and warning at or above mahroom (%s)',
                v_tasdiq, v_warning, v_mahroom
            );
    end if;
    return null;
end;
$$;

create constraint trigger _100_levels_nested
after insert or update or delete on app.attendance_thresholds
deferrable initially deferred
for each row execute function app.tg_attendance_thresholds__check_order();

/** Alert settings DBAs may change (one row). */
create table app.alert_settings (
    singleton boolean primary key default true check (singleton),
    -- School days in a row absent for every marked period before consecutive_absence fires.
    consecutive_absence_days integer not null default 3
    constraint alert_settings_absence_days_between_1_and_30 check (consecutive_absence_days between 1 and 30)
);

insert into app.alert_settings default values;

/** Is present/marked inside a level: rate below the threshold, or at it when inclusive. No division. */
create function app.in_level(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean)
    returns boolean
    language sql
    immutable
    cost 1
    set search_path = ''
as $$
    select p_marked > 0
        and (100 * p_present < p_threshold * p_marked or (p_inclusive and 100 * p_present = p_threshold * p_marked))
$$;

/**
 * Consecutive present periods that bring present/marked out of a level: the smallest n for
 * which (present + n) / (marked + n) is no longer inside it. 0 outside the level; null when no
 * number of periods can (a threshold of 100).
 */
create function app.recovery_periods(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean)
    returns integer
    language sql
    immutable
    cost 1
    set search_path = ''
as $$
    select case
        -- outside the level (app.in_level, written out: this runs once per alert raised)
        when not (p_marked > 0 and (100 * p_present < p_threshold * p_marked
            or (p_inclusive and 100 * p_present = p_threshold * p_marked))) then 0
        when p_threshold >= 100 then null
        -- inside: 100 p <= t m; out: 100 (p + n) > t (m + n), so n > (t m - 100 p) / (100 - t)
        when p_inclusive then floor((p_threshold * p_marked - 100 * p_present) / (100 - p_threshold))::integer + 1
        -- inside: 100 p < t m; out: 100 (p + n) >= t (m + n)
        else ceil((p_threshold * p_marked - 100 * p_present) / (100 - p_threshold))::integer
    end
$$;

/** {tasdiq, warning, mahroom}: the recovery figure of each level for these counts. */
create function app.recovery_of(p_present integer, p_marked integer)
    returns jsonb
    language sql
    stable
    set search_path = ''
as $$
    select jsonb_object_agg(
        t.level, app.recovery_periods(coalesce(p_present, 0), coalesce(p_marked, 0), t.threshold, t.inclusive)
    )
    from app.attendance_thresholds as t
$$;

/** Each student's alert state: the level last raised (or re-armed down to), and the streak. */
create table app.student_alert_state (
    student_id uuid primary key references app.students (id) on delete cascade,
    level text check (level in ('tasdiq', 'warning', 'mahroom')),
    -- A consecutive_absence alert was raised for the streak the student is in now.
    absence_streak boolean not null default false,
    changed_at timestamptz not null default now()
);

-- Days without a present period: what a consecutive-absence streak is made of.
create index student_attendance_daily_no_present_idx on app.student_attendance_daily (student_id, date)
where marked > 0 and present = 0;

/** The seed's notification preferences: two channels and three kinds. */
create table app.notification_preferences (
    student_id uuid primary key references app.students (id) on delete cascade,
    email_enabled boolean not null default true,
    in_app_enabled boolean not null default true,
    attendance_alerts boolean not null default true,
    file_updates boolean not null default true,
    system_announcements boolean not null default true,
    updated_at timestamptz not null default now()
);

/** The seed's notifications. `in_app`: the student's preferences let it show in the app. */
create table app.notifications (
    id uuid primary key default gen_random_uuid(),
    student_id uuid not null references app.students (id) on delete cascade,
    type text not null check (
        type in (
            'attendance_warning', 'mahroom_alert', 'tasdiq_alert', 'consecutive_absence',
            'file_approved', 'file_rejected', 'system_announcement'
        )
    ),
    title text not null check (length(title) between 1 and 255),
    message text not null check (length(message) between 1 and 4000),
    severity text not null check (severity in ('info', 'warning', 'error', 'success')),
    created_at timestamptz not null default now(),
    read boolean not null default false,
    read_at timestamptz,
    action_url text check (length(action_url) <= 2000),
    metadata jsonb not null default '{}'::jsonb,
    in_app boolean not null,
    constraint notifications_read_at_when_read check (read = (read_at is not null))
);

-- A student's page, newest first, all or unread only.
create index notifications_student_page_idx on app.notifications (student_id, created_at desc, id desc)
where in_app;
create index notifications_student_unread_idx on app.notifications (student_id, created_at desc, id desc)
where in_app and not read;

/** One row per notification and channel: what was delivered, how often tried, and the outcome. */
create table app.notification_deliveries (
    id bigint generated always as identity primary key,
    notification_id uuid not null references app.notifications (id) on delete cascade,
    channel text not null check (channel in ('in_app', 'email')),
    -- pending -> sending -> sent | failed (will be retried) | dead (given up)
    status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed', 'dead')),
    attempts integer not null default 0 check (attempts >= 0),
    -- Sends made while an earlier attempt's outcome was unknown (it may have reached the server).
    resends integer not null default 0 check (resends >= 0),
    last_error text,
    -- Email: the Message-ID every attempt uses, fixed when the delivery is created.
    message_id text,
    recipient text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    sent_at timestamptz,
    constraint notification_deliveries_one_per_channel unique (notification_id, channel),
    constraint notification_deliveries_email_has_message_id check (channel <> 'email' or message_id is not null),
    constraint notification_deliveries_sent_at_when_sent check ((status = 'sent') = (sent_at is not null))
);

create index notification_deliveries_open_idx on app.notification_deliveries (status, created_at)
where status not in ('sent', 'dead');

/** Every student has an alert state and preferences (defaults on), from the moment they exist. */
create function app.tg_students__create_alert_rows()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    insert into app.student_alert_state (student_id) select n.id from new_rows as n on conflict do nothing;
    insert into app.notification_preferences (student_id) select n.id from new_rows as n on conflict do nothing;
    return null;
end;
$$;

create trigger _110_create_alert_rows
after insert on app.students
referencing new table as new_rows
for each statement execute function app.tg_students__create_alert_rows();

insert into app.student_alert_state (student_id) select s.id from app.students as s;
insert into app.notification_preferences (student_id) select s.id from app.students as s;

-- The jobs worker's queues: three priorities and the dead letters. pgmq notifies listeners of
-- inserts at most every 100 ms per queue; the worker polls besides.
select pgmq.create(q.name) from unnest(array['jobs_urgent', 'jobs_normal', 'jobs_low', 'jobs_dead']) as q (name);
select pgmq.enable_notify_insert(q.name, 100) from unnest(array['jobs_urgent', 'jobs_normal', 'jobs_low']) as q (name);

/** A notification to create: what app.create_notifications() takes. */
create type app.new_notification as (
    student_id uuid,
    type text,
    title text,
    message text,
    severity text,
    action_url text,
    metadata jsonb
);

/**
 * Create notifications in this transaction, with their deliveries: in-app when the student's
 * preferences allow the kind and the channel (an outbox `notification` event reaches open
 * streams), email likewise (a pgmq `email` message per delivery: mahroom on jobs_urgent,
 * announcements on jobs_low, the rest on jobs_normal). The notification row is written either
 * way: it is the record that the alert was raised. Returns the new notifications' ids.
 *
 * Kinds and preference flags: attendance_warning, mahroom_alert, tasdiq_alert and
 * consecutive_absence answer to attendance_alerts; file_approved and file_rejected to
 * file_updates; system_announcement to system_announcements. All of it is one statement with
 * no function call per row: the hourly backstop may raise thousands at once.
 */
create function app.create_notifications(p_new app.new_notification[])
    returns setof uuid
    language plpgsql
    volatile
    security definer
    set search_path = ''
    -- Row estimates of function calls reach JIT's threshold; compiling costs more than the work.
    set jit = off
as $$
declare
    v_horizon xid8;
    v_ids uuid[];
    v_urgent jsonb[];
    v_normal jsonb[];
    v_low jsonb[];
begin
    if p_new is null or cardinality(p_new) = 0 then
        return;
    end if;
    -- The outbox rows below take this transaction's horizon (see app.begin_events()).
    v_horizon := app.begin_events();
    with wanted as (
        select
            gen_random_uuid() as id,
            n.student_id,
            n.type,
            n.title,
            n.message,
            n.severity,
            n.action_url,
            coalesce(n.metadata, '{}'::jsonb) as metadata,
            s.email as address,
            n.ordinality,
            coalesce(
                case
                    when n.type in ('attendance_warning', 'mahroom_alert', 'tasdiq_alert', 'consecutive_absence')
                        then p.attendance_alerts
                    when n.type in ('file_approved', 'file_rejected') then p.file_updates
                    else p.system_announcements
                end,
                false
            ) as kind_wanted,
            coalesce(p.in_app_enabled, false) as in_app_on,
            coalesce(p.email_enabled, false) as email_on
        from unnest(p_new) with ordinality as n
        inner join app.students as s on n.student_id = s.id
        left join app.notification_preferences as p on n.student_id = p.student_id
    ),
    created as (
        insert into app.notifications (id, student_id, type, title, message, severity, action_url, metadata, in_app)
        select w.id, w.student_id, w.type, w.title, w.message, w.severity, w.action_url, w.metadata, w.kind_wanted and w.in_app_on
        from wanted as w
        order by w.ordinality
        returning id, student_id, type, title, message, severity, action_url, created_at, in_app
    ),
    in_app as (
        -- Writing the row and its event is the in-app delivery.
        insert into app.notification_deliveries (notification_id, channel, status, attempts, sent_at)
        select c.id, 'in_app', 'sent', 1, now() from created as c where c.in_app
    ),
    announced as (
        insert into app.events (horizon, topic, student_id, class_id, payload)
        select
            v_horizon,
            'notification',
            c.student_id,
            null,
            jsonb_build_object(
                'id', c.id,
                'type', c.type,
                'title', c.title,
                'message', c.message,
                'severity', c.severity,
                'actionUrl', c.action_url,
                'createdAt', c.created_at,
                'read', false
            )
        from created as c
        where c.in_app
    ),
    email as (
        insert into app.notification_deliveries (notification_id, channel, message_id, recipient)
        select w.id, 'email', format('<%s@attendance.localhost>', w.id), w.address
        from wanted as w
        where w.kind_wanted and w.email_on
        order by w.ordinality
        returning id, notification_id
    ),
    jobs as (
        select
            case w.type when 'mahroom_alert' then 'jobs_urgent' when 'system_announcement' then 'jobs_low'
                else 'jobs_normal' end as queue,
            jsonb_build_object('task', 'email', 'deliveryId', e.id) as message,
            e.id
        from email as e
        inner join wanted as w on e.notification_id = w.id
    )
    select
        (select array_agg(w.id order by w.ordinality) from wanted as w),
        (select array_agg(j.message order by j.id) from jobs as j where j.queue = 'jobs_urgent'),
        (select array_agg(j.message order by j.id) from jobs as j where j.queue = 'jobs_normal'),
        (select array_agg(j.message order by j.id) from jobs as j where j.queue = 'jobs_low')
    into v_ids, v_urgent, v_normal, v_low;

    if v_urgent is not null then
        perform pgmq.send_batch('jobs_urgent', v_urgent);
    end if;
    if v_normal is not null then
        perform pgmq.send_batch('jobs_normal', v_normal);
    end if;
    if v_low is not null then
        perform pgmq.send_batch('jobs_low', v_low);
    end if;
    return query select unnest(v_ids);
end;
$$;

comment on function app.create_notifications(app.new_notification[]) is
'Create notifications with their in-app and email deliveries as the preferences allow, '
'their outbox events and their pgmq messages, in the caller''s transaction.';

/**
 * Where these students stand now: counts, the rate as shown, the deepest level they are in
 * (null below every level or before its minimum of marked periods) and whether their last N
 * school days (dates with marked periods) were absent in every marked period.
 */
create function app.alert_standing(p_students uuid[])
    returns table (student_id uuid, present integer, marked integer, rate numeric, level text, in_streak boolean)
    language plpgsql
    stable
    -- Most calls are a statement's students: planned as a handful, callers join by index.
    rows 100
    set search_path = ''
    -- Row estimates of function calls reach JIT's threshold; compiling costs more than the work.
    set jit = off
    -- One plan, by index, for every call: planning this statement anew for each marking
    -- statement would cost more than running it.
    set plan_cache_mode = force_generic_plan
as $$
begin
    -- The level test is app.in_level() written out against the three thresholds read once: a
    -- function call per student and level costs twenty times the whole pass
    -- (tests/db/test_alerts.py holds them equal).
    return query
    with wanted as (
        select distinct w.id from unnest(p_students) as w (id)
    ),
    th as (
        select
            max(t.threshold) filter (where t.level = 'mahroom') as m,
            bool_or(t.inclusive) filter (where t.level = 'mahroom') as m_inclusive,
            max(t.min_marked_periods) filter (where t.level = 'mahroom') as m_min,
            max(t.threshold) filter (where t.level = 'warning') as w,
            bool_or(t.inclusive) filter (where t.level = 'warning') as w_inclusive,
            max(t.min_marked_periods) filter (where t.level = 'warning') as w_min,
            max(t.threshold) filter (where t.level = 'tasdiq') as t,
            bool_or(t.inclusive) filter (where t.level = 'tasdiq') as t_inclusive,
            max(t.min_marked_periods) filter (where t.level = 'tasdiq') as t_min
        from app.attendance_thresholds as t
    ),
    -- A streak of N days needs N days without a present period: only students with that many
    -- are looked at day by day (the partial index holds those days alone).
    streak_candidates as (
        select dd.student_id
        from app.student_attendance_daily as dd
        cross join app.alert_settings as cfg
        where dd.marked > 0 and dd.present = 0 and dd.student_id in (select w.id from wanted as w)
        group by dd.student_id, cfg.consecutive_absence_days
        having count(*) >= cfg.consecutive_absence_days
    ),
    streaks as (
        select
            c.student_id,
            coalesce(
                (
                    select count(*) = cfg.consecutive_absence_days
                        and bool_and(
                            -- a day without a present period, and without sick or leave either
                            case when d.present > 0 then false else not exists (
                                select 1 from app.attendance_records as r
                                where r.student_id = c.student_id and r.date = d.date and r.status in ('sick', 'leave')
                            ) end
                        )
                    from (
                        select dd.date, dd.present
                        from app.student_attendance_daily as dd
                        where dd.student_id = c.student_id and dd.marked > 0
                        order by dd.date desc
                        limit cfg.consecutive_absence_days
                    ) as d
                ),
                false
            ) as in_streak
        from streak_candidates as c
        cross join app.alert_settings as cfg
    )
    select
        sm.student_id,
        sm.present,
        sm.marked,
        sm.attendance_rate,
        case
            when sm.marked > 0 and sm.marked >= th.m_min
                and (100 * sm.present < th.m * sm.marked or (th.m_inclusive and 100 * sm.present = th.m * sm.marked))
                then 'mahroom'
            when sm.marked > 0 and sm.marked >= th.w_min
                and (100 * sm.present < th.w * sm.marked or (th.w_inclusive and 100 * sm.present = th.w * sm.marked))
                then 'warning'
            when sm.marked > 0 and sm.marked >= th.t_min
                and (100 * sm.present < th.t * sm.marked or (th.t_inclusive and 100 * sm.present = th.t * sm.marked))
                then 'tasdiq'
        end,
        coalesce(st.in_streak, false)
    from wanted as w
    inner join app.student_attendance_summary as sm on w.id = sm.student_id
    cross join th
    left join streaks as st on sm.student_id = st.student_id;
end;
$$;

/**
 * Raise the alerts these students are owed now, and re-arm the levels they have climbed out
 * of. Locks their state rows first, then reads their counts in a later statement (see the
 * header). Returns the number of notifications created.
 */
create function app.apply_alerts(p_students uuid[])
    returns integer
    language plpgsql
    volatile
    security definer
    set search_path = ''
    -- Row estimates of function calls reach JIT's threshold; compiling costs more than the work.
    set jit = off
    set plan_cache_mode = force_generic_plan
as $$
declare
    v_new app.new_notification[];
begin
    if p_students is null or cardinality(p_students) = 0 then
        return 0;
    end if;
    perform 1
    from app.student_alert_state as s
    where s.student_id in (select w.id from unnest(p_students) as w (id))
    order by s.student_id
    for update;

    with standing as (
        select st.*, s.level as old_level, s.absence_streak as old_streak
        from app.alert_standing(p_students) as st
        inner join app.student_alert_state as s on st.student_id = s.student_id
    ),
    changed as (
        update app.student_alert_state as s
        set level = st.level, absence_streak = st.in_streak, changed_at = now()
        from standing as st
        where s.student_id = st.student_id
            and (s.level is distinct from st.level or s.absence_streak <> st.in_streak)
        returning st.student_id, st.present, st.marked, st.rate, st.level, st.old_level, st.in_streak, st.old_streak
    ),
    raised as (
        -- A deeper level than the one last raised, and a streak not yet told about.
        select c.student_id, c.present, c.marked, c.rate, c.level as kind
        from changed as c
        -- deeper: later in tasdiq, warning, mahroom (0 for none)
        where coalesce(array_position(array['tasdiq', 'warning', 'mahroom'], c.level), 0)
            > coalesce(array_position(array['tasdiq', 'warning', 'mahroom'], c.old_level), 0)
        union all
        select c.student_id, c.present, c.marked, c.rate, 'consecutive_absence'
        from changed as c
        where c.in_streak and not c.old_streak
    ),
    described as (
        select
            r.student_id,
            r.kind,
            r.rate,
            r.present,
            r.marked,
            t.threshold,
            t.inclusive,
            case when t.level is not null then app.recovery_periods(r.present, r.marked, t.threshold, t.inclusive) end
                as recovery,
            (
                -- the latest days with a period missed (absent, sick or leave: not present)
                select coalesce(jsonb_agg(a.date order by a.date desc), '[]'::jsonb)
                from (
                    select dd.date
                    from app.student_attendance_daily as dd
                    where dd.student_id = r.student_id and dd.marked > dd.present
                    order by dd.date desc
                    limit 10
                ) as a
            ) as absences,
            cfg.consecutive_absence_days as streak_days
        from raised as r
        cross join app.alert_settings as cfg
        left join app.attendance_thresholds as t on r.kind = t.level
    )
    select array_agg(
        row(
            d.student_id,
            case d.kind
                when 'mahroom' then 'mahroom_alert'
                when 'warning' then 'attendance_warning'
                when 'tasdiq' then 'tasdiq_alert'
                else 'consecutive_absence'
            end,
            case d.kind
                when 'mahroom' then format('Mahroom: attendance at or below %s %%', d.threshold)
                when 'warning' then format('Attendance warning: below %s %%', d.threshold)
                when 'tasdiq' then format('Certification (tasdiq) required: below %s %%', d.threshold)
                else format('Absent %s school days in a row', d.streak_days)
            end,
            case
                when d.kind = 'consecutive_absence' then format(
                    'You were absent for every period of your last %s school days (%s). '
                    'Your attendance is %s %%.',
                    d.streak_days,
                    (select string_agg(x.value #>> '{}', ', ') from jsonb_array_elements(d.absences) with ordinality as x
                        where x.ordinality <= d.streak_days),
                    d.rate
                )
                else format(
                    'Your attendance is %s %% (%s of %s marked periods present), %s %s %%. %s',
                    d.rate, d.present, d.marked,
                    case when d.inclusive then 'at or below' else 'below' end, d.threshold,
                    case
                        when d.recovery is null then 'No number of present periods brings it back.'
                        else format('%s consecutive present periods would bring you back out of this level.', d.recovery)
                    end
                )
            end,
            case when d.kind = 'mahroom' then 'error' else 'warning' end,
            null,
            jsonb_build_object(
                'alert', d.kind,
                'rate', d.rate,
                'present', d.present,
                'marked', d.marked,
                'threshold', d.threshold,
                'inclusive', d.inclusive,
                'recovery', d.recovery,
                'recentAbsences', d.absences
            ) || case when d.kind = 'consecutive_absence' then jsonb_build_object('days', d.streak_days) else '{}' end
        )::app.new_notification
        order by d.student_id, d.kind
    )
    into v_new
    from described as d;

    return (select count(*)::integer from app.create_notifications(v_new));
end;
$$;

comment on function app.apply_alerts(uuid[]) is
'Raise the threshold and consecutive-absence alerts these students are owed and re-arm the levels they left.';

/**
 * The hourly backstop: every student whose stored alert state disagrees with their counts
 * goes through app.apply_alerts(). Runs never overlap (a second one returns null at once).
 * Returns the number of notifications created.
 */
create function app.check_alerts()
    returns integer
    language plpgsql
    volatile
    security definer
    set search_path = ''
    -- Row estimates of function calls reach JIT's threshold; compiling costs more than the work.
    set jit = off
as $$
declare
    c_lock constant bigint := 7245120394;
    v_students uuid[];
begin
    if not pg_catalog.pg_try_advisory_xact_lock(c_lock) then
        raise notice 'alert check skipped: another one is running';
        return null;
    end if;
    select array_agg(st.student_id order by st.student_id)
    into v_students
    from app.alert_standing(array(select s.id from app.students as s)) as st
    inner join app.student_alert_state as s on st.student_id = s.student_id
    where s.level is distinct from st.level or s.absence_streak <> st.in_streak;
    return app.apply_alerts(v_students);
end;
$$;

comment on function app.check_alerts() is
'Hourly backstop (pg_cron): apply_alerts() for every student whose alert state is stale.';

/** Attendance changes raise alerts at once, for the students of the statement. */
create function app.tg_attendance_records__alerts()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
declare
    v_students uuid[];
begin
    if tg_op = 'INSERT' then
        select array_agg(distinct n.student_id) into v_students from new_rows as n;
    elsif tg_op = 'DELETE' then
        select array_agg(distinct o.student_id) into v_students from old_rows as o;
    else
        select array_agg(distinct x.student_id) into v_students
        from (select n.student_id from new_rows as n union select o.student_id from old_rows as o) as x;
    end if;
    perform app.apply_alerts(v_students);
    return null;
end;
$$;

/** TRUNCATE leaves every student without marked periods: every level is re-armed. */
create function app.tg_attendance_records__alerts_truncate()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    perform app.apply_alerts((select array_agg(s.student_id) from app.student_alert_state as s));
    return null;
end;
$$;

-- After the summaries (_100) and the events (_200): the counts are this statement's.
create trigger _300_alerts_insert
after insert on app.attendance_records
referencing new table as new_rows
for each statement execute function app.tg_attendance_records__alerts();

create trigger _300_alerts_update
after update on app.attendance_records
referencing old table as old_rows new table as new_rows
for each statement execute function app.tg_attendance_records__alerts();

create trigger _300_alerts_delete
after delete on app.attendance_records
referencing old table as old_rows
for each statement execute function app.tg_attendance_records__alerts();

create trigger _300_alerts_truncate
after truncate on app.attendance_records
for each statement execute function app.tg_attendance_records__alerts_truncate();

-- Thresholds or settings changed by a DBA: the backstop runs within the hour anyway; nothing
-- fires from inside their transaction.
select cron.schedule('alerts-backstop', '7 * * * *', 'select app.check_alerts()');

-- Outbox: new notifications reach open streams; reading them or changing preferences only
-- invalidates cached answers.
alter table app.events drop constraint events_topic_check;
alter table app.events add constraint events_topic_check
check (topic in ('attendance_update', 'class_figures', 'reset', 'notification', 'inbox_changed'));

/** Row-level security: a student reads their own in-app notifications and preferences. */
alter table app.student_alert_state enable row level security;
alter table app.notification_preferences enable row level security;
alter table app.notifications enable row level security;
alter table app.notification_deliveries enable row level security;
alter table app.alert_settings enable row level security;

revoke all on app.student_alert_state, app.notification_preferences, app.notifications,
app.notification_deliveries, app.alert_settings from public, anon, authenticated;
grant select on app.notifications, app.notification_preferences, app.student_alert_state, app.alert_settings
to authenticated;

create policy "Students read their own in-app notifications" on app.notifications
for select to authenticated
using (student_id = (select auth.uid()) and in_app);

create policy "Students read their own preferences" on app.notification_preferences
for select to authenticated
using (student_id = (select auth.uid()));

create policy "Students read their own alert state" on app.student_alert_state
for select to authenticated
using (student_id = (select auth.uid()));

create policy "Everyone signed in reads the alert settings" on app.alert_settings
for select to authenticated
using (true);

revoke execute on function
app.in_level(integer, integer, numeric, boolean),
app.recovery_periods(integer, integer, numeric, boolean),
app.recovery_of(integer, integer),
app.create_notifications(app.new_notification[]),
app.alert_standing(uuid[]),
app.apply_alerts(uuid[]),
app.check_alerts()
from public;
grant execute on function app.recovery_of(integer, integer), app.recovery_periods(integer, integer, numeric, boolean),
app.in_level(integer, integer, numeric, boolean)
to authenticated;

/** A notifications page cursor: created_at and id of the last row shown. */
create function app.notification_cursor(p_created_at timestamptz, p_id uuid)
    returns text
    language sql
    immutable
    set search_path = ''
as $$
    select ((extract(epoch from p_created_at) * 1000000)::bigint)::text || '.' || p_id::text
$$;

/**
 * The calling student's in-app notifications, newest first: {notifications, nextCursor,
 * unreadCount}. `unread`: only those not read yet. `cursor`: the nextCursor of the page before.
 * Security definer: reads only the caller's rows (students may not call the internal helpers).
 */
create function api.notifications(unread boolean default false, lim integer default 20, cursor text default null)
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_me uuid := app.caller_student_id();
    v_after_at timestamptz;
    v_after_id uuid;
    v_page jsonb;
    v_count integer;
    v_last text;
begin
    if lim is null or lim < 1 or lim > 100 then
        raise exception using errcode = '22023', message = 'lim must be between 1 and 100';
    end if;
    if cursor is not null then
        if cursor !~ '^\d{1,18}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
            raise exception using errcode = '22023', message = 'cursor is not a notifications cursor';
        end if;
        v_after_at := timestamptz 'epoch' + (split_part(cursor, '.', 1) || ' microseconds')::interval;
        v_after_id := split_part(cursor, '.', 2)::uuid;
    end if;

    with page as (
        select n.*
        from app.notifications as n
        where n.student_id = v_me
            and n.in_app
            and (not coalesce(unread, false) or not n.read)
            and (v_after_at is null or (n.created_at, n.id) < (v_after_at, v_after_id))
        order by n.created_at desc, n.id desc
        limit lim
    )
    select
        coalesce(
            jsonb_agg(
                jsonb_build_object(
                    'id', p.id,
                    'studentId', p.student_id,
                    'type', p.type,
                    'title', p.title,
                    'message', p.message,
                    'severity', p.severity,
                    'createdAt', p.created_at,
                    'read', p.read,
                    'readAt', p.read_at,
                    'actionUrl', p.action_url,
                    'metadata', p.metadata
                )
                order by p.created_at desc, p.id desc
            ),
            '[]'::jsonb
        ),
        count(*),
        (array_agg(app.notification_cursor(p.created_at, p.id) order by p.created_at, p.id))[1]
    into v_page, v_count, v_last
    from page as p;

    return jsonb_build_object(
        'notifications', v_page,
        -- A full page may have more behind it; the cursor is its oldest row.
        'nextCursor', case when v_count = lim then v_last end,
        'unreadCount', (
            select count(*) from app.notifications as n where n.student_id = v_me and n.in_app and not n.read
        )
    );
end;
$$;

comment on function api.notifications(boolean, integer, text) is
'The calling student''s in-app notifications, newest first: notifications, nextCursor, unreadCount.';

/**
 * Mark the calling student's notifications read: these ids, or every one (`every`). Ids that
 * are unknown or someone else's are ignored without a word. Returns {updated, unreadCount}.
 * Security definer: writes the read state (students have no write on the table) and the
 * outbox event that invalidates cached pages; only the caller's own rows are touched.
 */
create function api.mark_notifications_read(ids uuid[] default null, every boolean default false)
    returns jsonb
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_me uuid := app.caller_student_id();
    v_updated integer;
begin
    if not coalesce(every, false) and ids is null then
        raise exception using errcode = '22023', message = 'name the ids to mark read, or every';
    end if;
    if cardinality(ids) > 1000 then
        raise exception using errcode = '22023', message = 'at most 1000 ids at a time';
    end if;
    update app.notifications as n
    set read = true, read_at = now()
    where n.student_id = v_me
        and n.in_app
        and not n.read
        and (coalesce(every, false) or n.id = any(ids));
    get diagnostics v_updated = row_count;
    if v_updated > 0 then
        perform app.write_events(
            jsonb_build_array(
                jsonb_build_object('topic', 'inbox_changed', 'studentId', v_me, 'payload', '{"what": "read"}'::jsonb)
            )
        );
    end if;
    return jsonb_build_object(
        'updated', v_updated,
        'unreadCount', (
            select count(*) from app.notifications as n where n.student_id = v_me and n.in_app and not n.read
        )
    );
end;
$$;

comment on function api.mark_notifications_read(uuid[], boolean) is
'Mark the calling student''s notifications read (ids, or every): updated, unreadCount. '
'Security definer: writes only the caller''s rows and the outbox event.';

/** A preferences row as the API shows it. */
create function app.preferences_json(p app.notification_preferences)
    returns jsonb
    language sql
    immutable
    set search_path = ''
as $$
    select jsonb_build_object(
        'emailEnabled', p.email_enabled,
        'inAppEnabled', p.in_app_enabled,
        'attendanceAlerts', p.attendance_alerts,
        'fileUpdates', p.file_updates,
        'systemAnnouncements', p.system_announcements,
        'updatedAt', p.updated_at
    )
$$;

revoke execute on function app.preferences_json(app.notification_preferences), app.notification_cursor(timestamptz, uuid)
from public;
grant execute on function app.preferences_json(app.notification_preferences), app.notification_cursor(timestamptz, uuid)
to authenticated;

/** The calling student's notification preferences. Security definer: the caller's row only. */
create function api.notification_preferences()
    returns jsonb
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select app.preferences_json(p)
    from app.notification_preferences as p
    where p.student_id = app.caller_student_id()
$$;

comment on function api.notification_preferences() is 'The calling student''s notification preferences.';

/**
 * Change the calling student's preferences: any of emailEnabled, inAppEnabled,
 * attendanceAlerts, fileUpdates, systemAnnouncements, each a boolean. An unknown field or a
 * value that is not a boolean is refused (22023, naming the field) and nothing changes.
 * Security definer: writes only the caller's row and the outbox event.
 */
create function api.update_notification_preferences(prefs jsonb)
    returns jsonb
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_me uuid := app.caller_student_id();
    v_field text;
    v_row app.notification_preferences;
begin
    if prefs is null or jsonb_typeof(prefs) <> 'object' then
        raise exception using errcode = '22023', message = 'preferences must be a JSON object';
    end if;
    for v_field in select k from jsonb_object_keys(prefs) as k order by k loop
        if v_field not in ('emailEnabled', 'inAppEnabled', 'attendanceAlerts', 'fileUpdates', 'systemAnnouncements') then
            raise exception using errcode = '22023', message = format('%s is not a preference', v_field);
        end if;
        if jsonb_typeof(prefs -> v_field) <> 'boolean' then
            raise exception using errcode = '22023', message = format('%s must be true or false', v_field);
        end if;
    end loop;
    update app.notification_preferences as p
    set email_enabled = coalesce((prefs ->> 'emailEnabled')::boolean, p.email_enabled),
        in_app_enabled = coalesce((prefs ->> 'inAppEnabled')::boolean, p.in_app_enabled),
        attendance_alerts = coalesce((prefs ->> 'attendanceAlerts')::boolean, p.attendance_alerts),
        file_updates = coalesce((prefs ->> 'fileUpdates')::boolean, p.file_updates),
        system_announcements = coalesce((prefs ->> 'systemAnnouncements')::boolean, p.system_announcements),
        updated_at = now()
    where p.student_id = v_me
    returning * into v_row;
    perform app.write_events(
        jsonb_build_array(
            jsonb_build_object('topic', 'inbox_changed', 'studentId', v_me, 'payload', '{"what": "preferences"}'::jsonb)
        )
    );
    return app.preferences_json(v_row);
end;
$$;

comment on function api.update_notification_preferences(jsonb) is
'Change the calling student''s notification preferences (partial; booleans only). '
'Security definer: writes only the caller''s row and the outbox event.';

revoke execute on function
api.notifications(boolean, integer, text),
api.mark_notifications_read(uuid[], boolean),
api.notification_preferences(),
api.update_notification_preferences(jsonb)
from public;
grant execute on function
api.notifications(boolean, integer, text),
api.mark_notifications_read(uuid[], boolean),
api.notification_preferences(),
api.update_notification_preferences(jsonb)
to authenticated;

/**
 * The dashboard gains, per level, the consecutive present periods that bring the student out
 * of it (`recovery`, 0 outside it) and the level they were last alerted at (`alertLevel`).
 */
create or replace function app.dashboard_of(p_student_id uuid, p_class_id uuid)
    returns jsonb
    language plpgsql
    stable
    set search_path = ''
as $$
declare
    v_sum app.student_attendance_summary;
    v_rank bigint;
    v_class_average numeric;
begin
    select * into v_sum from app.student_attendance_summary as sm where sm.student_id = p_student_id;
    select r.rank into v_rank from analytics.class_rankings(p_class_id) as r where r.student_id = p_student_id;
    select f.average_attendance into v_class_average from analytics.class_figures(p_class_id) as f;
    return jsonb_build_object(
        'studentId', p_student_id,
        'classId', p_class_id,
        'totalClasses', coalesce(v_sum.marked, 0),
        'attendanceRate', v_sum.attendance_rate,
        'presentDays', coalesce(v_sum.present, 0),
        'absentDays', coalesce(v_sum.absent, 0),
        'sickDays', coalesce(v_sum.sick, 0),
        'leaveDays', coalesce(v_sum.leave, 0),
        'notMarked', coalesce(v_sum.not_marked, 0),
        'classAverage', v_class_average,
        'ranking', v_rank,
        'trend', app.student_trend(p_student_id),
        'recovery', app.recovery_of(v_sum.present, v_sum.marked),
        'alertLevel', (select a.level from app.student_alert_state as a where a.student_id = p_student_id),
        'lastUpdated', coalesce(v_sum.updated_at, now()),
        'freshness', analytics.freshness()
    );
end;
$$;

/**
 * api.events (restated): a student's own `notification` events are delivered as they are, and
 * only attendance and class figures bring a metrics_update.
 */
create or replace function api.events(after text default null, lim integer default 100, until text default null)
    returns jsonb
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_me uuid := app.caller_student_id();
    v_class uuid;
    v_after record;
    v_until record;
    v_bound record;
    v_head text;
    v_reason text;
    v_events jsonb;
    v_count integer;
    v_last text;
    v_related boolean;
begin
    if lim is null or lim < 1 or lim > 1000 then
        raise exception using errcode = '22023', message = 'lim must be between 1 and 1000';
    end if;
    select s.class_id into v_class from app.students as s where s.id = v_me;
    v_head := app.event_head();
    if after is null then
        return jsonb_build_object('events', '[]'::jsonb, 'nextAfter', v_head, 'reset', false);
    end if;
    v_after := app.parse_event_position(after);
    v_bound := app.event_bound();
    if v_after.horizon is null then
        v_reason := 'malformed';
    elsif v_after.horizon > v_bound.xmax then
        v_reason := 'future';
    elsif app.event_position_expired(v_after.horizon, v_after.id) then
        v_reason := 'expired';
    end if;
    if v_reason is not null then
        return jsonb_build_object(
            'events', jsonb_build_array(
                jsonb_build_object('id', v_head, 'event', 'reset', 'data', jsonb_build_object('reason', v_reason))
            ),
            'nextAfter', v_head,
            'reset', true
        );
    end if;
    v_until := app.parse_event_position(coalesce(until, pg_catalog.repeat('7', 32)));
    if v_until.horizon is null then
        raise exception using errcode = '22023', message = format('until %s is not an event position', until);
    end if;

    with page as (
        select e.horizon, e.id, e.topic, e.student_id, e.payload
        from app.events as e
        where (e.student_id = v_me or e.class_id = v_class)
            and (e.horizon, e.id) > (v_after.horizon, v_after.id)
            and (e.horizon, e.id) <= (v_until.horizon, v_until.id)
            and (e.horizon < v_bound.oldest_writer or v_bound.oldest_writer is null)
            and (e.horizon, e.id) <= (v_bound.xmax, v_bound.last_id)
        order by e.horizon, e.id
        limit lim
    )
    select
        coalesce(
            jsonb_agg(
                jsonb_build_object(
                    'id', app.event_position(p.horizon, p.id),
                    'event', p.topic,
                    'data', p.payload
                )
                order by p.horizon, p.id
            ) filter (where p.student_id = v_me and p.topic in ('attendance_update', 'reset', 'notification')),
            '[]'::jsonb
        ),
        count(*),
        (array_agg(app.event_position(p.horizon, p.id) order by p.horizon desc, p.id desc))[1],
        bool_or(p.topic in ('attendance_update', 'class_figures'))
    into v_events, v_count, v_last, v_related
    from page as p;

    if v_related then
        v_events := v_events || jsonb_build_array(
            jsonb_build_object(
                'id', v_last,
                'event', 'metrics_update',
                'data', app.dashboard_of(v_me, v_class)
            )
        );
    end if;
    return jsonb_build_object(
        'events', v_events,
        -- A short page read everything final up to now: later calls may start from there.
        'nextAfter', case
            when v_count = lim then v_last
            when until is not null then coalesce(v_last, after)
            else greatest(coalesce(v_last, after) collate "C", after, v_head)
        end,
        'reset', false
    );
end;
$$;

/**
 * The jobs worker starts email deliveries (those its SMTP connections are about to send, in
 * one call): each that is still to be sent becomes `sending` with one more attempt, and its
 * row says what the email says. Deliveries sent, dead or gone are left out. A delivery found
 * `sending` was being sent by an attempt that never reported back (a worker that died, maybe
 * after the server took the message): this send is counted as a resend, under the same
 * Message-ID.
 */
create function app.begin_email_deliveries(p_deliveries bigint[])
    returns table (delivery_id bigint, delivery jsonb)
    language sql
    volatile
    security definer
    set search_path = ''
as $$
    with started as (
        update app.notification_deliveries as d
        set status = 'sending',
            attempts = d.attempts + 1,
            resends = d.resends + (d.status = 'sending')::integer,
            updated_at = now()
        from (
            select x.id, x.status
            from app.notification_deliveries as x
            where x.id = any(p_deliveries) and x.channel = 'email' and x.status not in ('sent', 'dead')
            order by x.id
            for update
        ) as before
        where d.id = before.id
        returning d.id, d.notification_id, d.message_id, d.recipient, before.status = 'sending' as resend
    )
    select
        st.id,
        jsonb_build_object(
            'deliveryId', st.id,
            'resend', st.resend,
            'messageId', st.message_id,
            'recipient', st.recipient,
            'studentName', s.name,
            'type', n.type,
            'title', n.title,
            'message', n.message,
            'severity', n.severity,
            'createdAt', n.created_at,
            'metadata', n.metadata
        )
    from started as st
    inner join app.notifications as n on st.notification_id = n.id
    inner join app.students as s on n.student_id = s.id
$$;

/** The server took these emails (250): the deliveries are sent, and the audit log says so. */
create function app.finish_email_deliveries(p_deliveries bigint[])
    returns integer
    language sql
    volatile
    security definer
    set search_path = ''
as $$
    with sent as (
        update app.notification_deliveries as d
        set status = 'sent', sent_at = now(), updated_at = now(), last_error = null
        where d.id = any(p_deliveries) and d.status <> 'sent'
        returning d.id, d.notification_id, d.attempts, d.resends, d.message_id
    ),
    logged as (
        insert into audit.audit_logs (user_id, action, resource, resource_id, metadata)
        select
            n.student_id,
            'notification_sent',
            'notification',
            s.notification_id::text,
            jsonb_build_object(
                'channel', 'email', 'deliveryId', s.id, 'attempts', s.attempts, 'resends', s.resends,
                'messageId', s.message_id
            )
        from sent as s
        inner join app.notifications as n on s.notification_id = n.id
        returning 1
    )
    select count(*)::integer from logged
$$;

/** An attempt failed: `failed` (it will be retried) or `dead` (given up), with the error. */
create function app.fail_email_delivery(p_delivery bigint, p_error text, p_dead boolean)
    returns void
    language sql
    volatile
    security definer
    set search_path = ''
as $$
    update app.notification_deliveries as d
    set status = case when p_dead then 'dead' else 'failed' end,
        last_error = left(p_error, 1000),
        updated_at = now()
    where d.id = p_delivery and d.status <> 'sent';
$$;

revoke execute on function
app.begin_email_deliveries(bigint[]),
app.finish_email_deliveries(bigint[]),
app.fail_email_delivery(bigint, text, boolean)
from public;

/**
 * One round of the jobs worker's reading, in one round trip: up to p_batch messages from
 * jobs_urgent, then from jobs_normal and jobs_low what room is left, or at least their share
 * (p_normal_share, p_low_share: the worker gives a queue a share once it has waited behind
 * urgent work for long enough). Each read sets the message's visibility timeout (p_vt s).
 */
create function app.read_jobs(p_vt integer, p_batch integer, p_normal_share integer, p_low_share integer)
    returns table (queue text, msg_id bigint, read_ct integer, message jsonb)
    language plpgsql
    volatile
    set search_path = ''
as $$
declare
    v_room integer := p_batch;
    v_got integer;
    v_queue text;
    v_share integer;
begin
    foreach v_queue in array array['jobs_urgent', 'jobs_normal', 'jobs_low'] loop
        v_share := case v_queue when 'jobs_normal' then p_normal_share when 'jobs_low' then p_low_share else 0 end;
        if greatest(v_room, v_share) > 0 then
            return query
            select v_queue, m.msg_id, m.read_ct, m.message
            from pgmq.read(v_queue, p_vt, greatest(v_room, v_share)) as m;
            get diagnostics v_got = row_count;
            v_room := v_room - v_got;
        end if;
    end loop;
end;
$$;

comment on function app.read_jobs(integer, integer, integer, integer) is
'The jobs worker''s read: urgent first, then normal and low with the room left or their share.';

revoke execute on function app.read_jobs(integer, integer, integer, integer) from public;
