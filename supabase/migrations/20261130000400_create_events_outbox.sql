-- The events outbox: every change to attendance writes events in the same transaction, and
-- readers (each edge process, students polling or resuming a stream) read them in one order
-- in which no event is ever skipped.
--
-- Why not "the largest id seen": ids are taken when rows are inserted, transactions commit
-- later and in any order, so a reader that has seen id 11 may later find id 10 commit.
--
-- The order. Each event carries its writing transaction (xid, from pg_current_xact_id()) and a
-- position (horizon, id): horizon is the larger of the writer's own transaction id and the
-- xmax of the snapshot the writer took when it wrote (one more than the newest transaction
-- that had completed then). Events are read in (horizon, id) order. A transaction that writes
-- after another has committed (for example after waiting for the other's row lock) always sorts
-- after it, so the order agrees with commit order wherever the commit order can be observed.
--
-- Readers stop before any position a transaction still in flight could take. Writers register
-- before they take the snapshot their horizon comes from: each holds a shared advisory lock,
-- app.event_writer_lock(), until it ends. A reader (app.event_bound()) reads, in this order,
-- the id sequence's last value S, then in one statement its own snapshot's xmax X and the
-- oldest transaction holding the lock, W. Then, in a later statement and so a newer snapshot,
-- it takes the events with horizon < W (when a writer is in flight) and (horizon, id) <= (X, S):
--   - a writer registered at the scan has horizon >= its xid >= W: left for later;
--   - a writer that registers after the scan takes its snapshot after it, so its horizon is at
--     least X, and its ids come after S: left for later;
--   - every other writer had ended before the scan, so the reader's newer snapshot sees it.
-- Only transactions that write events can hold the readers back. A long REFRESH, a DBA's open
-- session or a queue worker does not delay live updates, as a horizon built from the snapshot's
-- xmin would.
--
-- Retention: daily partitions, created ahead and dropped whole after app.event_retention()
-- (72 hours) by pg_cron. The newest position ever dropped is remembered, so a reader asking
-- for events after an older position learns that some are gone (the stream's reset event).

/** Newest position ever dropped by retention: a position older than this may have lost events. */
create table app.event_retention (
    singleton boolean primary key default true check (singleton),
    dropped_through_horizon xid8 not null default '0'::xid8,
    dropped_through_id bigint not null default 0,
    dropped_at timestamptz
);

insert into app.event_retention default values;

alter table app.event_retention enable row level security;
revoke all on app.event_retention from public, anon, authenticated;

/** The outbox. Written only through app.write_events(); read through app.read_events() and api.events(). */
create table app.events (
    id bigint generated always as identity,
    xid xid8 not null default pg_catalog.pg_current_xact_id(),
    horizon xid8 not null,
    topic text not null check (topic in ('attendance_update', 'reset')),
    student_id uuid,
    class_id uuid,
    payload jsonb not null default '{}'::jsonb,
    at timestamptz not null default now(),
    primary key (horizon, id, at)
) partition by range (at);

comment on table app.events is
'The events outbox, read in (horizon, id) order; daily partitions dropped after app.event_retention().';
comment on column app.events.xid is 'The writing transaction.';
comment on column app.events.horizon is
'The larger of the writer''s transaction id and its snapshot''s xmax when it wrote: the first half of the position.';

create table app.events_default partition of app.events default;

create index events_student_idx on app.events (student_id, horizon, id) where student_id is not null;
create index events_class_idx on app.events (class_id, horizon, id) where class_id is not null;

alter table app.events enable row level security;
revoke all on app.events from public, anon, authenticated, service_role;
grant select on app.events to service_role;

/** How long events are kept: positions older than this may get a reset. */
create function app.event_retention()
    returns interval
    language plpgsql
    immutable
    set search_path = ''
as $$
begin
    return interval '72 hours';
end;
$$;

/** The advisory lock every event writer holds (shared) until its transaction ends. */
create function app.event_writer_lock()
    returns bigint
    language plpgsql
    immutable
    set search_path = ''
as $$
begin
    return 7245120393;
end;
$$;

/** A position as clients see it: 32 hex digits, in the same order as the positions. */
create function app.event_position(p_horizon xid8, p_id bigint)
    returns text
    language plpgsql
    immutable
    strict
    set search_path = ''
as $$
begin
    return pg_catalog.lpad(pg_catalog.to_hex(p_horizon::text::bigint), 16, '0')
        || pg_catalog.lpad(pg_catalog.to_hex(p_id), 16, '0');
end;
$$;

/** The (horizon, id) a position names; null when the text is not a position. */
create function app.parse_event_position(p_position text, out horizon xid8, out id bigint)
    language plpgsql
    immutable
    set search_path = ''
as $$
begin
    if p_position is null or p_position !~ '^[0-9a-f]{32}$' or p_position ~ '^[89a-f]|^.{16}[89a-f]' then
        return;
    end if;
    horizon := ('x' || pg_catalog.substr(p_position, 1, 16))::bit(64)::bigint::text::xid8;
    id := ('x' || pg_catalog.substr(p_position, 17, 16))::bit(64)::bigint;
end;
$$;

/** A running transaction's 32-bit id widened to xid8, using a nearby full id for the epoch. */
create function app.widen_xid(p_xid xid, p_near xid8)
    returns xid8
    language plpgsql
    immutable
    strict
    set search_path = ''
as $$
declare
    c_wrap constant bigint := 4294967296;
    v_near bigint := p_near::text::bigint;
    v_full bigint := (v_near / c_wrap) * c_wrap + p_xid::text::bigint;
begin
    if v_full > v_near + c_wrap / 2 then
        v_full := v_full - c_wrap;
    elsif v_full < v_near - c_wrap / 2 then
        v_full := v_full + c_wrap;
    end if;
    return v_full::text::xid8;
end;
$$;

/**
 * How far readers may read now: the events with horizon < oldest_writer (null: no writer in
 * flight) and (horizon, id) <= (xmax, last_id) have all committed or rolled back. The caller must read them in a later
 * statement than this one (so with a newer snapshot) in a READ COMMITTED transaction.
 */
create function app.event_bound(out oldest_writer xid8, out xmax xid8, out last_id bigint)
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
begin
    if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
        raise exception using
            errcode = '25001',
            message = 'events are read in READ COMMITTED transactions only',
            hint = 'Each statement must see the transactions that ended before it started.';
    end if;
    -- First the sequence: ids a writer takes after the scan below are larger.
    select case when s.is_called then s.last_value else 0 end into last_id from app.events_id_seq as s;
    -- Then, in one statement, this snapshot's xmax and the registered writers.
    with snap as (
        select pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()) as xmax
    )
    select
        snap.xmax,
        (
            select min(app.widen_xid(t.transactionid, snap.xmax))
            from pg_catalog.pg_locks as a
            inner join pg_catalog.pg_locks as t
                on t.virtualtransaction = a.virtualtransaction
                and t.locktype = 'transactionid'
                and t.mode = 'ExclusiveLock'
                and t.granted
            where a.locktype = 'advisory'
                and a.database = (select d.oid from pg_catalog.pg_database as d where d.datname = pg_catalog.current_database())
                and a.classid::bigint = (app.event_writer_lock() >> 32)
                and a.objid::bigint = (app.event_writer_lock() & 4294967295)
                and a.objsubid = 1
                and a.granted
        )
    into xmax, oldest_writer
    from snap;
end;
$$;

/** The position before which every event has been read by anyone starting now. */
create function app.event_head()
    returns text
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_bound record;
begin
    v_bound := app.event_bound();
    if v_bound.oldest_writer is null or v_bound.oldest_writer > v_bound.xmax then
        return app.event_position(v_bound.xmax, v_bound.last_id);
    end if;
    return app.event_position(v_bound.oldest_writer, 0);
end;
$$;

/**
 * Register this transaction as an event writer and wake the readers; returns the horizon its
 * events take now. The lock comes first, and the horizon is read in a later statement, so
 * from a snapshot taken after it: see the header of this migration. Postgres folds the
 * notifications of one transaction with the same payload into one.
 */
create function app.begin_events()
    returns xid8
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_horizon xid8;
begin
    perform pg_catalog.pg_advisory_xact_lock_shared(app.event_writer_lock());
    perform pg_catalog.pg_notify('app_events', '');
    select greatest(pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()), pg_catalog.pg_current_xact_id())
    into v_horizon;
    return v_horizon;
end;
$$;

/**
 * Append events in this transaction. Each element of p_events: {topic, studentId, classId,
 * payload}. For writers other than the attendance triggers (which insert theirs directly).
 */
create function app.write_events(p_events jsonb)
    returns void
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_horizon xid8;
begin
    if p_events is null or pg_catalog.jsonb_array_length(p_events) = 0 then
        return;
    end if;
    v_horizon := app.begin_events();
    insert into app.events (horizon, topic, student_id, class_id, payload)
    select v_horizon, e.topic, e."studentId", e."classId", coalesce(e.payload, '{}'::jsonb)
    from pg_catalog.jsonb_to_recordset(p_events) as e (topic text, "studentId" uuid, "classId" uuid, payload jsonb);
end;
$$;

comment on function app.write_events(jsonb) is
'Append events to the outbox in this transaction and wake the readers (one NOTIFY app_events per transaction).';

/** One changed attendance record, as its event describes it. */
create type app.attendance_change as (
    student_id uuid,
    class_id uuid,
    date date,
    period smallint,
    subject text,
    status app.attendance_status,
    previous_status app.attendance_status,
    marked_by uuid,
    marked_at timestamptz,
    change text
);

/**
 * Attendance changes become attendance_update events: the statement's changed rows are
 * collected from its transition tables and inserted in one statement, without a function call
 * or a JSON round trip per row (a class of 40 is one statement's worth).
 */
create function app.tg_attendance_records__events()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
declare
    v_changes app.attendance_change[];
    v_horizon xid8;
begin
    if tg_op = 'INSERT' then
        select array_agg(
            row(n.student_id, n.class_id, n.date, n.period, n.subject, n.status, null, n.marked_by,
                n.marked_at, 'marked')::app.attendance_change
            order by n.student_id, n.date, n.period
        )
        into v_changes
        from new_rows as n;
    elsif tg_op = 'UPDATE' then
        select array_agg(
            row(n.student_id, n.class_id, n.date, n.period, n.subject, n.status, o.status, n.marked_by,
                n.marked_at, 're-marked')::app.attendance_change
            order by n.student_id, n.date, n.period
        )
        into v_changes
        from new_rows as n
        inner join old_rows as o on n.id = o.id
        where (n.status, n.subject, n.student_id, n.class_id, n.date, n.period)
            is distinct from (o.status, o.subject, o.student_id, o.class_id, o.date, o.period);
    else
        select array_agg(
            row(o.student_id, o.class_id, o.date, o.period, o.subject, null, o.status, o.marked_by,
                o.marked_at, 'deleted')::app.attendance_change
            order by o.student_id, o.date, o.period
        )
        into v_changes
        from old_rows as o;
    end if;
    if v_changes is null then
        return null;
    end if;
    v_horizon := app.begin_events();
    -- The event names the student's class now (whose figures the change moves), which is the
    -- record's class unless the student has moved since the period was held.
    insert into app.events (horizon, topic, student_id, class_id, payload)
    select
        v_horizon,
        'attendance_update',
        c.student_id,
        coalesce(s.class_id, c.class_id),
        jsonb_build_object(
            'change', c.change,
            'studentId', c.student_id,
            'date', c.date,
            'period', c.period,
            'subject', c.subject,
            'status', c.status,
            'previousStatus', c.previous_status,
            'markedBy', c.marked_by,
            'markedAt', c.marked_at
        )
    from unnest(v_changes) with ordinality as c
    left join app.students as s on c.student_id = s.id
    order by c.ordinality;
    return null;
end;
$$;

/** TRUNCATE has no transition table: every student is told to refetch everything. */
create function app.tg_attendance_records__events_truncate()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    perform app.write_events(
        (
            select jsonb_agg(
                jsonb_build_object(
                    'topic', 'reset',
                    'studentId', s.id,
                    'classId', s.class_id,
                    'payload', jsonb_build_object('reason', 'attendance_truncated')
                )
            )
            from app.students as s
        )
    );
    return null;
end;
$$;

create trigger _200_events_insert
after insert on app.attendance_records
referencing new table as new_rows
for each statement execute function app.tg_attendance_records__events();

create trigger _200_events_update
after update on app.attendance_records
referencing old table as old_rows new table as new_rows
for each statement execute function app.tg_attendance_records__events();

create trigger _200_events_delete
after delete on app.attendance_records
referencing old table as old_rows
for each statement execute function app.tg_attendance_records__events();

create trigger _200_events_truncate
after truncate on app.attendance_records
for each statement execute function app.tg_attendance_records__events_truncate();

/**
 * Events after a position, in order, for the edge's bridge (every student and class): at most
 * p_limit of them, and none a transaction in flight could still precede. p_after null: from
 * the oldest event kept.
 */
create function app.read_events(p_after text, p_limit integer default 1000)
    returns table (
        event_position text,
        topic text,
        student_id uuid,
        class_id uuid,
        payload jsonb,
        at timestamptz
    )
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_after record := app.parse_event_position(coalesce(p_after, pg_catalog.repeat('0', 32)));
    v_bound record;
begin
    if v_after.horizon is null then
        raise exception using errcode = '22023', message = format('%s is not an event position', p_after);
    end if;
    if p_limit is null or p_limit < 1 or p_limit > 10000 then
        raise exception using errcode = '22023', message = 'p_limit must be between 1 and 10000';
    end if;
    v_bound := app.event_bound();
    return query
    select app.event_position(e.horizon, e.id), e.topic, e.student_id, e.class_id, e.payload, e.at
    from app.events as e
    where (e.horizon, e.id) > (v_after.horizon, v_after.id)
        and (e.horizon < v_bound.oldest_writer or v_bound.oldest_writer is null)
        and (e.horizon, e.id) <= (v_bound.xmax, v_bound.last_id)
    order by e.horizon, e.id
    limit p_limit;
end;
$$;

comment on function app.read_events(text, integer) is
'The outbox after a position, in (horizon, id) order, stopping before anything still in flight (the edge''s bridge).';

/** Is anything after this position gone (dropped by retention)? */
create function app.event_position_expired(p_horizon xid8, p_id bigint)
    returns boolean
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    return exists (
        select 1 from app.event_retention as r
        where (p_horizon, p_id) < (r.dropped_through_horizon, r.dropped_through_id)
    );
end;
$$;

/**
 * Create the daily (UTC) partitions from p_from for p_days_ahead more days (idempotent), moving any
 * rows of those days out of the default partition. Returns the partitions created.
 */
create function app.create_event_partitions(p_days_ahead integer default 3, p_from date default current_date)
    returns setof text
    language plpgsql
    volatile
    set search_path = ''
as $$
declare
    v_day date;
    v_name text;
    v_start timestamptz;
    v_end timestamptz;
begin
    for i in 0 .. p_days_ahead loop
        v_day := p_from + i;
        v_name := format('events_%s', to_char(v_day, 'YYYYMMDD'));
        v_start := v_day::timestamp at time zone 'UTC';
        v_end := (v_day + 1)::timestamp at time zone 'UTC';
        continue when to_regclass(format('app.%I', v_name)) is not null;
        execute format('create table app.%I (like app.events including defaults including constraints)', v_name);
        execute format(
            'with moved as (delete from app.events_default where at >= %L and at < %L returning *)'
            ' insert into app.%I select * from moved',
            v_start, v_end, v_name
        );
        execute format(
            'alter table app.events attach partition app.%I for values from (%L) to (%L)',
            v_name, v_start, v_end
        );
        return next v_name;
    end loop;
end;
$$;

/**
 * Drop the daily partitions whose every event is older than the retention, remembering the
 * newest position dropped. Whole partitions only: nothing is deleted row by row. Returns the
 * partitions dropped.
 */
create function app.drop_expired_event_partitions(p_now timestamptz default now())
    returns setof text
    language plpgsql
    volatile
    set search_path = ''
as $$
declare
    v_part record;
    v_horizon xid8;
    v_id bigint;
begin
    for v_part in
        select c.oid::regclass as rel, c.relname,
            pg_catalog.to_date(pg_catalog.substr(c.relname, 8), 'YYYYMMDD') as day
        from pg_catalog.pg_inherits as i
        inner join pg_catalog.pg_class as c on i.inhrelid = c.oid
        where i.inhparent = 'app.events'::regclass and c.relname ~ '^events_[0-9]{8}$'
        order by c.relname
    loop
        continue when (v_part.day + 1)::timestamp at time zone 'UTC' > p_now - app.event_retention();
        execute format('select horizon, id from %s order by horizon desc, id desc limit 1', v_part.rel)
        into v_horizon, v_id;
        if v_horizon is not null then
            update app.event_retention as r
            set dropped_through_horizon = v_horizon,
                dropped_through_id = v_id,
                dropped_at = now()
            where (r.dropped_through_horizon, r.dropped_through_id) < (v_horizon, v_id);
        end if;
        execute format('drop table %s', v_part.rel);
        return next v_part.relname::text;
    end loop;
end;
$$;

/** Daily upkeep (pg_cron): partitions for the next days, expired ones dropped. */
create function app.maintain_events()
    returns void
    language plpgsql
    volatile
    set search_path = ''
as $$
begin
    if not pg_catalog.pg_try_advisory_xact_lock(7245120394) then
        return;
    end if;
    perform app.create_event_partitions(3, (now() at time zone 'UTC')::date - 1);
    perform app.drop_expired_event_partitions();
end;
$$;

revoke execute on function
    app.event_retention(), app.event_writer_lock(), app.event_position(xid8, bigint),
    app.parse_event_position(text), app.widen_xid(xid, xid8), app.event_bound(), app.event_head(),
    app.begin_events(), app.write_events(jsonb), app.tg_attendance_records__events(),
    app.tg_attendance_records__events_truncate(), app.read_events(text, integer),
    app.event_position_expired(xid8, bigint), app.create_event_partitions(integer, date),
    app.drop_expired_event_partitions(timestamptz), app.maintain_events()
from public;

-- The edge reads the outbox as its own login role.
grant usage on schema app to authenticator;
grant execute on function app.read_events(text, integer), app.event_head() to authenticator, service_role;

select app.create_event_partitions(3, (now() at time zone 'UTC')::date - 1);

select cron.schedule('events-maintain', '5 * * * *', 'select app.maintain_events()');
