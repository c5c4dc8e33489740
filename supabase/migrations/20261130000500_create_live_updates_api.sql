-- What live clients read: a student's events after a position (the polling fallback and the
-- replay of a resumed stream), where a stream starts, and the dashboards the edge pushes to
-- connected students when their figures move. A refresh of the analytics views now tells the
-- classes whose figures it changed.

alter table app.events drop constraint events_topic_check;
alter table app.events add constraint events_topic_check
check (topic in ('attendance_update', 'class_figures', 'reset'));

/** A student's StudentDashboardMetrics, for callers that have already authorized the read. */
create function app.dashboard_of(p_student_id uuid, p_class_id uuid)
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
        'lastUpdated', coalesce(v_sum.updated_at, now()),
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
begin
    return app.dashboard_of(student_dashboard.student_id, app.authorize_student(student_dashboard.student_id));
end;
$$;

/**
 * The dashboards of these students, for the edge to push to their open streams (one call per
 * batch of events). The edge's login role only: students read their own through the api.
 */
create function app.dashboards_for(p_students uuid[])
    returns table (student_id uuid, class_id uuid, dashboard jsonb)
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    return query
    select s.id, s.class_id, app.dashboard_of(s.id, s.class_id)
    from app.students as s
    where s.id = any(p_students);
end;
$$;

comment on function app.dashboards_for(uuid[]) is
'StudentDashboardMetrics of these students, for the edge''s live updates (runs as its owner: no caller to authorize).';

/** Where the calling student's event stream starts now: {studentId, classId, head}. */
create function api.event_stream()
    returns jsonb
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_me uuid := app.caller_student_id();
begin
    return jsonb_build_object(
        'studentId', v_me,
        'classId', (select s.class_id from app.students as s where s.id = v_me),
        'head', app.event_head()
    );
end;
$$;

comment on function api.event_stream() is
'Where the calling student''s event stream starts: studentId, classId and head, the position of now. '
'Security definer: reads the outbox''s bounds, which students cannot read.';

/**
 * The calling student's events after a position, in order: {events, nextAfter, reset}.
 * Their own attendance changes and resets as they are; changes to their classmates' records
 * only as a metrics_update with the student's current dashboard, last in the page, carrying
 * the page's last position. Without `after`: no events, and nextAfter is now. A position that
 * is malformed, from the future or older than the retention gets one reset event and
 * nextAfter = now: the client refetches everything. `until` stops at a position (a resumed
 * stream replays up to where its live part starts).
 */
create function api.events(after text default null, lim integer default 100, until text default null)
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
            ) filter (where p.student_id = v_me and p.topic in ('attendance_update', 'reset')),
            '[]'::jsonb
        ),
        count(*),
        (array_agg(app.event_position(p.horizon, p.id) order by p.horizon desc, p.id desc))[1],
        bool_or(p.topic <> 'reset')
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

comment on function api.events(text, integer, text) is
'The calling student''s events after a position (polling and stream replay): events, nextAfter, reset. '
'Security definer: reads the outbox, which students cannot read, and returns only their own rows.';

/** One digest per class of the figures the views hold for it (not their calculation time). */
create function analytics.class_digests()
    returns table (class_id uuid, digest text)
    language plpgsql
    stable
    set search_path = ''
as $$
begin
    return query
    select cs.class_id, md5(
        concat_ws('|', cs.total_students, cs.rated_students, cs.average_attendance, cs.median_attendance,
            cs.highest_attendance, cs.lowest_attendance, cs.students_at_risk,
            (
                select string_agg(concat_ws(':', r.student_id, r.rank, r.attendance_rate, r.percentile), ','
                    order by r.student_id)
                from analytics.student_rankings as r
                where r.class_id = cs.class_id
            )
        )
    )
    from analytics.class_statistics as cs;
end;
$$;

create or replace function analytics.refresh(p_only_if_dirty boolean default false)
    returns boolean
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    c_lock constant bigint := 7245120392;
    v_seen pg_catalog.pg_snapshot;
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_before jsonb := '{}'::jsonb;
    v_was_populated boolean;
begin
    if not pg_catalog.pg_try_advisory_xact_lock(c_lock) then
        raise notice 'analytics refresh skipped: another refresh is running';
        return false;
    end if;
    v_was_populated := analytics.is_populated('analytics.class_statistics')
        and analytics.is_populated('analytics.student_rankings');
    if p_only_if_dirty and v_was_populated and not exists (select 1 from analytics.pending_changes) then
        return false;
    end if;
    if v_was_populated then
        select coalesce(jsonb_object_agg(d.class_id, d.digest), '{}'::jsonb) into v_before
        from analytics.class_digests() as d;
    end if;
    v_seen := pg_catalog.pg_current_snapshot();
    if analytics.is_populated('analytics.class_statistics') then
        refresh materialized view concurrently analytics.class_statistics;
    else
        refresh materialized view analytics.class_statistics;
    end if;
    if analytics.is_populated('analytics.student_rankings') then
        refresh materialized view concurrently analytics.student_rankings;
    else
        refresh materialized view analytics.student_rankings;
    end if;
    -- A snapshot does not list its own transaction as visible, yet the refresh saw its changes.
    delete from analytics.pending_changes as p
    where pg_catalog.pg_visible_in_snapshot(p.xid, v_seen)
        or p.xid = pg_catalog.pg_current_xact_id_if_assigned();
    update analytics.refresh_state
    set last_started_at = v_started,
        last_finished_at = pg_catalog.clock_timestamp(),
        last_duration_ms = extract(epoch from pg_catalog.clock_timestamp() - v_started) * 1000;
    -- Classes whose figures moved: their connected students get their dashboards again.
    perform app.write_events(
        (
            select jsonb_agg(
                jsonb_build_object('topic', 'class_figures', 'classId', d.class_id, 'payload', '{}'::jsonb)
                order by d.class_id
            )
            from analytics.class_digests() as d
            where d.digest is distinct from v_before ->> d.class_id::text
        )
    );
    return true;
end;
$$;

revoke execute on function
    app.dashboard_of(uuid, uuid), app.dashboards_for(uuid[]), api.event_stream(),
    api.events(text, integer, text), analytics.class_digests()
from public;
grant execute on function app.dashboards_for(uuid[]) to authenticator, service_role;
grant execute on function api.event_stream(), api.events(text, integer, text) to authenticated, service_role;

/**
 * Where a reader that has no position of its own starts so as to see every event committed
 * since p_since: just before the first such event, or now when there is none.
 */
create function app.event_position_since(p_since timestamptz)
    returns text
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_first record;
begin
    select e.horizon, e.id into v_first
    from app.events as e
    where e.at >= p_since
    order by e.horizon, e.id
    limit 1;
    if v_first.horizon is null then
        return app.event_head();
    end if;
    return app.event_position(v_first.horizon, v_first.id - 1);
end;
$$;

revoke execute on function app.event_position_since(timestamptz) from public;
grant execute on function app.event_position_since(timestamptz) to authenticator, service_role;
