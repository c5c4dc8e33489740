-- The audit log: append-only, range-partitioned by month on its timestamp.
--
-- Application roles may only add entries, through audit.log(); nobody updates or deletes an
-- entry. Partitions are created ahead by audit.create_partitions(), daily from pg_cron; rows
-- that arrive for a month without a partition land in the default partition and are moved
-- into the month's partition when it is created.

create extension if not exists pg_cron;

create schema if not exists audit_archive;
comment on schema audit_archive is 'Detached audit partitions waiting to be archived to storage.';
revoke all on schema audit_archive from public;

/** One audited action: exports, uploads, downloads, authentication failures, rate limits. */
create table audit.audit_logs (
    id uuid not null default gen_random_uuid(),
    -- Null when nobody could be identified (a failed login with an unreadable token).
    user_id uuid,
    -- Actions are snake_case words such as data_export or login_failure.
    action text not null check (action ~ '^[a-z][a-z0-9_]{0,49}$'),
    resource text not null check (length(resource) between 1 and 100),
    resource_id text check (length(resource_id) <= 255),
    metadata jsonb not null default '{}'::jsonb,
    ip_address inet,
    user_agent text,
    timestamp timestamptz not null default now(),
    success boolean not null default true,
    error_message text,
    primary key (id, timestamp)
) partition by range (timestamp);

create table audit.audit_logs_default partition of audit.audit_logs default;

create index audit_logs_user_id_idx on audit.audit_logs (user_id, timestamp desc);
create index audit_logs_action_idx on audit.audit_logs (action, timestamp desc);
create index audit_logs_timestamp_idx on audit.audit_logs (timestamp desc);
create index audit_logs_resource_idx on audit.audit_logs (resource, resource_id);

/** Refuse every update, and deletes outside partition upkeep. */
create function audit.tg_audit_logs__immutable()
    returns trigger
    language plpgsql
as $$
begin
    if tg_op = 'DELETE' and current_setting('audit.maintenance', true) = 'on' then
        return old;
    end if;
    raise exception using
        errcode = '42501',
        message = format('audit log entries are immutable: %s is not allowed', lower(tg_op));
end;
$$;

create trigger _100_immutable
before update or delete on audit.audit_logs
for each row execute function audit.tg_audit_logs__immutable();

/** Truncate has no row trigger: refuse it at statement level. */
create function audit.tg_audit_logs__no_truncate()
    returns trigger
    language plpgsql
as $$
begin
    raise exception using
        errcode = '42501',
        message = 'audit log entries are immutable: truncate is not allowed';
end;
$$;

create trigger _100_no_truncate
before truncate on audit.audit_logs
for each statement execute function audit.tg_audit_logs__no_truncate();

/**
 * Create the monthly partitions from the month of p_from through p_months_ahead months later.
 * Idempotent. Rows already sitting in the default partition for a new month are moved into it.
 * Returns the names of the partitions it created.
 */
create function audit.create_partitions(
    p_months_ahead integer default 3,
    p_from date default current_date
)
    returns setof text
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_start date;
    v_end date;
    v_name text;
begin
    if p_months_ahead is null or p_months_ahead not between 0 and 120 then
        raise exception using
            errcode = '22023',
            message = format('p_months_ahead must be between 0 and 120, got %s', p_months_ahead);
    end if;
    perform set_config('audit.maintenance', 'on', true);
    for i in 0 .. p_months_ahead loop
        v_start := (date_trunc('month', p_from) + make_interval(months => i))::date;
        v_end := (v_start + interval '1 month')::date;
        v_name := format('audit_logs_y%sm%s', to_char(v_start, 'YYYY'), to_char(v_start, 'MM'));
        continue when to_regclass(format('audit.%I', v_name)) is not null;

        execute format(
            'create table audit.%I (like audit.audit_logs including defaults including constraints)',
            v_name
        );
        execute format(
            'with moved as (delete from audit.audit_logs_default where timestamp >= %L and timestamp < %L returning *)'
            ' insert into audit.%I select * from moved',
            v_start, v_end, v_name
        );
        execute format(
            'alter table audit.audit_logs attach partition audit.%I for values from (%L) to (%L)',
            v_name, v_start, v_end
        );
        return next v_name;
    end loop;
    perform set_config('audit.maintenance', 'off', true);
end;
$$;

comment on function audit.create_partitions(integer, date) is
'Create monthly audit partitions ahead (idempotent); moves matching rows out of the default partition.';

revoke execute on function audit.create_partitions(integer, date) from public;

/** Keys whose values must never be written to the audit log. */
create function audit.redact(p_metadata jsonb)
    returns jsonb
    language sql
    immutable
    set search_path = ''
as $$
    select coalesce(
        jsonb_object_agg(
            key,
            case
                when key ~* '(token|password|secret|authorization|jwt|api_?key|cookie|signature|sig)'
                    then to_jsonb('[redacted]'::text)
                when jsonb_typeof(value) = 'object' then audit.redact(value)
                else value
            end
        ),
        '{}'::jsonb
    )
    from jsonb_each(case when jsonb_typeof(p_metadata) = 'object' then p_metadata else '{}'::jsonb end)
$$;

/**
 * Write one audit entry and return its id. The only way application roles add to the log.
 * Secrets are redacted from metadata whatever the caller passes.
 */
create function audit.log(
    p_action text,
    p_resource text,
    p_resource_id text default null,
    p_metadata jsonb default '{}'::jsonb,
    p_success boolean default true,
    p_error_message text default null,
    p_user_id uuid default null,
    p_ip_address inet default null,
    p_user_agent text default null
)
    returns uuid
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_id uuid;
begin
    insert into audit.audit_logs (
        user_id, action, resource, resource_id, metadata, ip_address, user_agent, success, error_message
    )
    values (
        coalesce(p_user_id, auth.uid()),
        p_action,
        p_resource,
        p_resource_id,
        audit.redact(coalesce(p_metadata, '{}'::jsonb)),
        p_ip_address,
        left(p_user_agent, 512),
        coalesce(p_success, true),
        p_error_message
    )
    returning id into v_id;
    return v_id;
end;
$$;

comment on function audit.log(text, text, text, jsonb, boolean, text, uuid, inet, text) is
'Append one audit entry (the only write application roles have on the audit log).';

revoke all on schema audit from public;
grant usage on schema audit to authenticator, service_role;
revoke all on audit.audit_logs from public, anon, authenticated, service_role, authenticator;
grant select on audit.audit_logs to service_role;
revoke execute on function audit.log(text, text, text, jsonb, boolean, text, uuid, inet, text) from public;
grant execute on function audit.log(text, text, text, jsonb, boolean, text, uuid, inet, text)
to authenticator, service_role;
revoke execute on function audit.redact(jsonb) from public;

select audit.create_partitions(3);

select cron.schedule(
    'audit-create-partitions',
    '15 0 * * *',
    'select audit.create_partitions(3)'
);
