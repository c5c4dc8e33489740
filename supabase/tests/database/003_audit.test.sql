-- The audit log: partitioned by month, append-only for everyone, written through audit.log().

begin;
select plan(24);

select is(
    (select partstrat from pg_partitioned_table where partrelid = 'audit.audit_logs'::regclass),
    'r',
    'audit_logs is range-partitioned'
);
select is(
    (select a.attname::text from pg_partitioned_table as p
     join pg_attribute as a on a.attrelid = p.partrelid and a.attnum = p.partattrs[0]
     where p.partrelid = 'audit.audit_logs'::regclass),
    'timestamp',
    'on its timestamp'
);
select ok(
    exists (select 1 from pg_inherits as i join pg_class as c on c.oid = i.inhrelid
            where i.inhparent = 'audit.audit_logs'::regclass and c.relname = 'audit_logs_default'),
    'there is a default partition'
);
select ok(
    exists (select 1 from pg_inherits as i join pg_class as c on c.oid = i.inhrelid
            where i.inhparent = 'audit.audit_logs'::regclass
              and c.relname = format('audit_logs_y%sm%s', to_char(now(), 'YYYY'), to_char(now(), 'MM'))),
    'the current month has its partition'
);
select indexes_are(
    'audit', 'audit_logs',
    array['audit_logs_pkey', 'audit_logs_user_id_idx', 'audit_logs_action_idx',
          'audit_logs_timestamp_idx', 'audit_logs_resource_idx'],
    'the seed''s indexes exist'
);

-- audit.log writes an entry and redacts secrets.
select isnt(
    audit.log('data_export', 'attendance', null,
              '{"format": "csv", "token": "eyJhbGciOi", "nested": {"password": "hunter2"}}'::jsonb,
              true, null, '11111111-1111-4111-8111-111111111111', '203.0.113.9', 'curl/8'),
    null,
    'audit.log returns the new id'
);
select results_eq(
    $$select action, metadata, host(ip_address), success from audit.audit_logs where action = 'data_export'$$,
    $$values ('data_export', '{"format": "csv", "token": "[redacted]", "nested": {"password": "[redacted]"}}'::jsonb,
              '203.0.113.9', true)$$,
    'the entry is stored with secrets redacted'
);
select throws_ok(
    $$select audit.log('Not An Action', 'x')$$, '23514', null, 'actions are snake_case words'
);

-- Nobody updates or deletes, not even the owner.
select throws_ok(
    $$update audit.audit_logs set success = false$$, '42501',
    'audit log entries are immutable: update is not allowed', 'update is refused'
);
select throws_ok(
    $$delete from audit.audit_logs$$, '42501',
    'audit log entries are immutable: delete is not allowed', 'delete is refused'
);
select throws_ok(
    $$truncate audit.audit_logs$$, '42501',
    'audit log entries are immutable: truncate is not allowed', 'truncate is refused'
);
select is(
    (select count(*) from audit.audit_logs),
    1::bigint,
    'the entry survived'
);

-- Application roles hold no write privilege at all.
select ok(
    not bool_or(has_table_privilege(r, 'audit.audit_logs', p)),
    format('no application role may %s', p)
)
from unnest(array['update', 'delete', 'truncate', 'insert']) as p
cross join unnest(array['anon', 'authenticated', 'service_role', 'authenticator']) as r
group by p
order by p;
select ok(
    has_function_privilege('authenticator', 'audit.log(text, text, text, jsonb, boolean, text, uuid, inet, text)', 'execute')
    and not has_function_privilege('authenticated', 'audit.log(text, text, text, jsonb, boolean, text, uuid, inet, text)', 'execute')
    and not has_function_privilege('anon', 'audit.log(text, text, text, jsonb, boolean, text, uuid, inet, text)', 'execute'),
    'only the edge login role and service_role may write entries'
);

-- Partition upkeep is idempotent, and moves early arrivals out of the default partition.
insert into audit.audit_logs (action, resource, timestamp) values ('login_failure', 'auth', '2031-05-10 12:00+00');
select is(
    (select tableoid::regclass::text from audit.audit_logs where timestamp = '2031-05-10 12:00+00'),
    'audit.audit_logs_default',
    'a row for a month without a partition lands in the default partition'
);
select results_eq(
    $$select audit.create_partitions(2, '2031-04-20')$$,
    $$values ('audit_logs_y2031m04'), ('audit_logs_y2031m05'), ('audit_logs_y2031m06')$$,
    'create_partitions creates the months asked for'
);
select is(
    (select tableoid::regclass::text from audit.audit_logs where timestamp = '2031-05-10 12:00+00'),
    'audit.audit_logs_y2031m05',
    'the early row moved into its month'
);
select is_empty(
    $$select audit.create_partitions(2, '2031-04-20')$$,
    'running it again creates nothing'
);
select is(
    (select count(*) from pg_inherits where inhparent = 'audit.audit_logs'::regclass
       and inhrelid::regclass::text like 'audit.audit_logs_y2031%'),
    3::bigint,
    'and leaves the same three partitions'
);
select throws_ok(
    $$select audit.create_partitions(-1)$$, '22023', null, 'a negative horizon is refused'
);
select is(
    (select schedule from cron.job where jobname = 'audit-create-partitions'),
    '15 0 * * *',
    'pg_cron creates partitions ahead daily'
);

select * from finish();
rollback;
