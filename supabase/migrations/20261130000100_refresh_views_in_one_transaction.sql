-- The analytics views are refreshed by one function call in one transaction, and the rules the
-- refresh and its readers share are written once.
--
-- Until now a refresh was a procedure that claimed the work (waited up to 5 s for writers in
-- flight, cleared a dirty flag, committed) and then refreshed in a second transaction. A
-- procedure that commits cannot pin its search_path, which Supabase's Security Advisor asks of
-- every function. The claim is no longer needed: each writing transaction now records its own
-- id in analytics.pending_changes, and a refresh deletes exactly the ids that its snapshot
-- already saw. A writer still in flight keeps its row and the views stay dirty for the next
-- run, so no change is lost, nobody waits for anybody, and pg_cron calls plain functions.
--
-- Rules written once here: how old the views may get (analytics.freshness_bound(), which the
-- ten-minute pg_cron schedule is built from) and whether a view holds data
-- (analytics.is_populated()).

/** Writing transactions whose changes to the figures are not in the views yet. */
create table analytics.pending_changes (
    xid xid8 primary key,
    at timestamptz not null default statement_timestamp()
);

comment on table analytics.pending_changes is
'One row per writing transaction not yet covered by a refresh of the analytics views.';

alter table analytics.pending_changes enable row level security;
revoke all on analytics.pending_changes from public;
grant select on analytics.pending_changes to service_role;

-- Whatever was dirty before this migration is dirty after it.
insert into analytics.pending_changes (xid)
select pg_catalog.pg_current_xact_id() as xid
where exists (
    select 1 from analytics.refresh_state as rs
    where rs.dirty_since is not null
);

/**
 * Note that the figures behind the views changed in this transaction: one row per
 * transaction, so a statement that writes again in the same transaction costs an index probe.
 */
create or replace function analytics.mark_dirty()
    returns void
    language sql
    volatile
    security definer
    set search_path = ''
as $$
    insert into analytics.pending_changes (xid) values (pg_catalog.pg_current_xact_id())
    on conflict (xid) do nothing;
$$;

-- The two helpers below are PL/pgSQL: a SQL function that cannot be inlined (a pinned
-- search_path prevents it) is parsed and planned again at every call from PL/pgSQL, while
-- PL/pgSQL keeps its plans for the session.

/** How old the views may be before readers are told they are stale. pg_cron refreshes them this often. */
create function analytics.freshness_bound()
    returns interval
    language plpgsql
    immutable
    set search_path = ''
as $$
begin
    return interval '10 minutes';
end;
$$;

/** Has this materialized view been filled since it was created? Before that it cannot be read. */
create function analytics.is_populated(p_view regclass)
    returns boolean
    language plpgsql
    stable
    set search_path = ''
as $$
begin
    return (select c.relispopulated from pg_catalog.pg_class as c where c.oid = p_view);
end;
$$;

alter table analytics.refresh_state drop column dirty_since;

drop procedure analytics.refresh_if_dirty();
drop procedure analytics.refresh();
drop procedure analytics.run_refresh(boolean);

/**
 * Refresh both views now, concurrently once they hold data, so readers are never blocked;
 * with p_only_if_dirty, only when something changed since the last refresh. Returns whether it
 * refreshed. Only one refresh runs at a time: another caller gets a notice and false.
 *
 * The snapshot taken before the refresh statements is older than theirs, so every transaction
 * it saw as committed is in the refreshed views: exactly those leave pending_changes.
 * Security definer: refreshing needs the views' owner; service_role may ask for a refresh.
 */
create function analytics.refresh(p_only_if_dirty boolean default false)
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
begin
    if not pg_catalog.pg_try_advisory_xact_lock(c_lock) then
        raise notice 'analytics refresh skipped: another refresh is running';
        return false;
    end if;
    if p_only_if_dirty
        and analytics.is_populated('analytics.class_statistics')
        and analytics.is_populated('analytics.student_rankings')
        and not exists (select 1 from analytics.pending_changes)
    then
        return false;
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
    return true;
end;
$$;

comment on function analytics.refresh(boolean) is
'Refresh the analytics views (only if something changed, with true); false when skipped.';

/** Refresh the views if attendance changed since the last refresh (pg_cron: every minute). */
create function analytics.refresh_if_dirty()
    returns boolean
    language sql
    volatile
    security definer
    set search_path = ''
as $$
    select analytics.refresh(true)
$$;

revoke execute on function analytics.refresh(boolean), analytics.refresh_if_dirty() from public;
grant execute on function analytics.refresh(boolean), analytics.refresh_if_dirty() to service_role;

/**
 * Where class figures come from and how fresh they are: source view or live; when the views
 * were last refreshed and how many seconds ago; whether changes are waiting for a refresh;
 * stale when the views are older than analytics.freshness_bound().
 */
create or replace function analytics.freshness()
    returns jsonb
    language plpgsql
    stable
    security invoker
    set search_path = ''
as $$
declare
    v_populated boolean := analytics.is_populated('analytics.class_statistics')
        and analytics.is_populated('analytics.student_rankings');
    v_refreshed_at timestamptz;
begin
    select min(rs.last_finished_at) into v_refreshed_at from analytics.refresh_state as rs;
    return pg_catalog.jsonb_build_object(
        'source', case when v_populated then 'view' else 'live' end,
        'refreshedAt', case when v_populated then v_refreshed_at end,
        'ageSeconds', case when v_populated then round(extract(epoch from now() - v_refreshed_at)) end,
        'pendingChanges', exists (select 1 from analytics.pending_changes),
        -- A populated view with no recorded refresh is of unknown age: stale.
        'stale', v_populated and coalesce(v_refreshed_at < now() - analytics.freshness_bound(), true)
    );
end;
$$;

/** Rankings of one class: from the materialized view once populated, else computed live. */
create or replace function analytics.class_rankings(p_class_id uuid)
    returns setof analytics.student_rankings_live
    language plpgsql
    stable
    security invoker
    set search_path = ''
as $$
begin
    if analytics.is_populated('analytics.student_rankings') then
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
create or replace function analytics.class_figures(p_class_id uuid)
    returns setof analytics.class_statistics_live
    language plpgsql
    stable
    security invoker
    set search_path = ''
as $$
begin
    if analytics.is_populated('analytics.class_statistics') then
        return query select * from analytics.class_statistics as cs where cs.class_id = p_class_id;
    else
        return query select * from analytics.class_statistics_live as cs where cs.class_id = p_class_id;
    end if;
end;
$$;

revoke execute on function analytics.freshness_bound(), analytics.is_populated(regclass) from public;

select cron.schedule('analytics-refresh-if-dirty', '* * * * *', 'select analytics.refresh_if_dirty()');
select cron.schedule(
    'analytics-refresh',
    format('*/%s * * * *', extract(epoch from analytics.freshness_bound())::integer / 60),
    'select analytics.refresh()'
);
