-- The admin surface: reading the audit log, and a check the edge uses before admin-only actions
-- that live outside the database (resetting a user's rate limits in Redis).

/** Refuse (42501) unless the caller is an admin. */
create function api.authorize_admin()
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

comment on function api.authorize_admin() is 'Raises 42501 unless the caller is an admin.';

/**
 * A page of audit entries, newest first, with the seed's filters; admins only. Returns
 * {entries, total, limit, offset}.
 */
create function api.audit_logs(
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
    perform api.authorize_admin();
    if page_limit is null or page_limit not between 1 and 500 then
        raise exception using errcode = '22023', message = 'limit must be between 1 and 500';
    end if;
    if page_offset is null or page_offset < 0 then
        raise exception using errcode = '22023', message = 'offset must not be negative';
    end if;
    if from_time is not null and to_time is not null and from_time > to_time then
        raise exception using errcode = '22023', message = 'from must not be after to';
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

comment on function api.audit_logs(uuid, text, timestamptz, timestamptz, boolean, integer, integer) is
'Admins: audit entries newest first, filtered by user, action, time range and success, paginated.';

revoke execute on function api.authorize_admin(),
api.audit_logs(uuid, text, timestamptz, timestamptz, boolean, integer, integer) from public;
grant execute on function api.authorize_admin(),
api.audit_logs(uuid, text, timestamptz, timestamptz, boolean, integer, integer) to authenticated;
