-- Audit archival: when the audit log holds more than a million rows, months older than 90 days
-- leave the table. Each goes through four states, recorded in audit.archives, and each step is
-- safe to run again, so an interrupted archival resumes without loss or duplicates:
--
--   detached  the month's partition is detached and moved to audit_archive (one transaction,
--             with its row in audit.archives and a jobs_low message for the worker);
--   written   the worker has copied it to a compressed file (written aside, then renamed);
--   verified  the worker has read the file back: its sha256, row count and first and last
--             timestamps match the table's;
--   dropped   the table is dropped, in the transaction that records it.
--
-- The file and its manifest (the same figures as JSON) live where the worker keeps archives;
-- audit.archives says where. pg_cron runs the detaching daily.

/** One archived (or archiving) month of the audit log. */
create table audit.archives (
    month date primary key check (month = date_trunc('month', month)),
    partition_name text not null unique,
    state text not null default 'detached' check (state in ('detached', 'written', 'verified', 'dropped')),
    rows bigint check (rows >= 0),
    first_at timestamptz,
    last_at timestamptz,
    location text check (length(location) <= 1000),
    sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
    bytes bigint check (bytes >= 0),
    detached_at timestamptz not null default now(),
    written_at timestamptz,
    verified_at timestamptz,
    dropped_at timestamptz,
    constraint archives_written_has_file check (
        state = 'detached' or (location is not null and sha256 is not null and rows is not null)
    )
);

alter table audit.archives enable row level security;
revoke all on audit.archives from public, anon, authenticated, service_role, authenticator;

/**
 * Detach the months that have ended more than p_age ago when the audit log holds more than
 * p_threshold rows (the planner's and the statistics collector's estimates, the larger:
 * counting a million rows to decide costs more than the decision is worth). Each month becomes a table in audit_archive, a row in audit.archives and
 * an audit_archive job on jobs_low, in one transaction. Returns the months detached.
 */
create function audit.detach_for_archive(
    p_threshold bigint default 1000000,
    p_age interval default interval '90 days',
    p_now timestamptz default now()
)
    returns setof date
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    c_lock constant bigint := 7245120395;
    v_rows bigint;
    v_part record;
begin
    if not pg_catalog.pg_try_advisory_xact_lock(c_lock) then
        raise notice 'audit archival skipped: another run is detaching';
        return;
    end if;
    select coalesce(sum(greatest(c.reltuples::bigint, s.n_live_tup, 0)), 0)
    into v_rows
    from pg_catalog.pg_inherits as i
    inner join pg_catalog.pg_class as c on i.inhrelid = c.oid
    left join pg_catalog.pg_stat_all_tables as s on i.inhrelid = s.relid
    where i.inhparent = 'audit.audit_logs'::regclass;
    -- Months an earlier run left unfinished (a worker that kept dying, a full disk) are handed
    -- to the worker again: every step is safe to repeat.
    perform pgmq.send('jobs_low', jsonb_build_object('task', 'audit_archive', 'month', a.month))
    from audit.archives as a
    where a.state <> 'dropped';
    if v_rows <= p_threshold then
        return;
    end if;
    for v_part in
        select
            c.relname,
            to_date(substring(c.relname from '\d{4}m\d{2}$'), 'YYYY"m"MM') as month
        from pg_catalog.pg_inherits as i
        inner join pg_catalog.pg_class as c on i.inhrelid = c.oid
        where i.inhparent = 'audit.audit_logs'::regclass
            and c.relname ~ '^audit_logs_y\d{4}m\d{2}$'
        order by c.relname
    loop
        continue when (v_part.month + interval '1 month') > p_now - p_age;
        execute format('alter table audit.audit_logs detach partition audit.%I', v_part.relname);
        execute format('alter table audit.%I set schema audit_archive', v_part.relname);
        -- The jobs worker's role (migration 20261130000900) copies it out.
        execute format('grant select on audit_archive.%I to jobs_worker', v_part.relname);
        insert into audit.archives (month, partition_name) values (v_part.month, v_part.relname);
        perform pgmq.send('jobs_low', jsonb_build_object('task', 'audit_archive', 'month', v_part.month));
        return next v_part.month;
    end loop;
end;
$$;

comment on function audit.detach_for_archive(bigint, interval, timestamptz) is
'Daily (pg_cron): past a million audit rows, detach months older than 90 days for the archival job.';

/** What a detached month holds: its rows and its first and last timestamps. */
create function audit.archive_figures(p_month date, out rows bigint, out first_at timestamptz, out last_at timestamptz)
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_table text;
begin
    select a.partition_name into v_table from audit.archives as a where a.month = p_month;
    if v_table is null then
        raise exception using errcode = 'P0002', message = format('no archive of %s is under way', p_month);
    end if;
    execute format('select count(*), min(timestamp), max(timestamp) from audit_archive.%I', v_table)
    into rows, first_at, last_at;
end;
$$;

/**
 * The worker's steps, each recorded only once its work is done. Written: the file is in place
 * with these figures. Verified: it was read back and matched. Dropped: the table is gone.
 */
create function audit.archive_written(
    p_month date, p_location text, p_sha256 text, p_bytes bigint, p_rows bigint, p_first timestamptz, p_last timestamptz
)
    returns void
    language sql
    volatile
    security definer
    set search_path = ''
as $$
    update audit.archives
    set state = 'written', location = p_location, sha256 = p_sha256, bytes = p_bytes, rows = p_rows,
        first_at = p_first, last_at = p_last, written_at = now()
    where month = p_month and state in ('detached', 'written');
$$;

create function audit.archive_verified(p_month date)
    returns void
    language sql
    volatile
    security definer
    set search_path = ''
as $$
    update audit.archives set state = 'verified', verified_at = now() where month = p_month and state = 'written';
$$;

/** Drop the month's table and record it, in one transaction; refuses a month not verified. */
create function audit.archive_drop(p_month date)
    returns void
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_archive audit.archives;
begin
    select * into v_archive from audit.archives where month = p_month for update;
    if v_archive.state is distinct from 'verified' then
        raise exception using
            errcode = '55000',
            message = format('the archive of %s is %s, not verified: its table stays', p_month, coalesce(v_archive.state, 'unknown'));
    end if;
    execute format('drop table if exists audit_archive.%I', v_archive.partition_name);
    update audit.archives set state = 'dropped', dropped_at = now() where month = p_month;
end;
$$;

revoke execute on function
audit.detach_for_archive(bigint, interval, timestamptz),
audit.archive_figures(date),
audit.archive_written(date, text, text, bigint, bigint, timestamptz, timestamptz),
audit.archive_verified(date),
audit.archive_drop(date)
from public;

select cron.schedule('audit-archive', '45 2 * * *', 'select count(*) from audit.detach_for_archive()');

/** The archived months, newest first, for admins: month, state, where, rows, range, sha256. */
create function api.audit_archives()
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    perform app.authorize_admin();
    return coalesce(
        (
            select jsonb_agg(
                jsonb_build_object(
                    'month', to_char(a.month, 'YYYY-MM'),
                    'state', a.state,
                    'location', a.location,
                    'rows', a.rows,
                    'firstAt', a.first_at,
                    'lastAt', a.last_at,
                    'sha256', a.sha256,
                    'bytes', a.bytes,
                    'detachedAt', a.detached_at,
                    'droppedAt', a.dropped_at
                )
                order by a.month desc
            )
            from audit.archives as a
        ),
        '[]'::jsonb
    );
end;
$$;

comment on function api.audit_archives() is
'Admins: the archived months of the audit log and where their files are. '
'Security definer: audit.archives is closed to every client role; the function checks the caller.';

revoke execute on function api.audit_archives() from public;
grant execute on function api.audit_archives() to authenticated;

/**
 * api.audit_logs (restated): a page also says which months are archived and where
 * (`archived`, as api.audit_archives() answers). Archived months are no longer in the table:
 * their entries are in the files named there.
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
        'offset', page_offset,
        'archived', api.audit_archives()
    ) into v_result;
    return v_result;
end;
$$;
