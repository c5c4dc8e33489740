-- The jobs worker's own login role. It owns nothing: it may read and acknowledge the queues,
-- call the functions that record its work, and read the audit months handed to it for
-- archiving. Created without login (roles are the cluster's); an installation gives it login
-- and a password (`make run` does, from var/secrets.json) and the worker connects with
-- JOBS_DATABASE_URL.

do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'jobs_worker') then
        create role jobs_worker nologin noinherit;
    end if;
end
$$;

grant usage on schema app, audit, audit_archive, pgmq to jobs_worker;

-- pgmq's functions run as their caller: the worker needs the queue tables themselves. Queues
-- created later by the owner get the same through default privileges.
grant select on all tables in schema pgmq to jobs_worker;
grant insert, update, delete on all tables in schema pgmq to jobs_worker;
grant usage, select on all sequences in schema pgmq to jobs_worker;
alter default privileges in schema pgmq grant select, insert, update, delete on tables to jobs_worker;
alter default privileges in schema pgmq grant usage, select on sequences to jobs_worker;
grant execute on all functions in schema pgmq to jobs_worker;

grant execute on function
app.read_jobs(integer, integer, integer, integer),
app.begin_email_deliveries(bigint[]),
app.finish_email_deliveries(bigint[]),
app.fail_email_delivery(bigint, text, boolean),
audit.archive_figures(date),
audit.archive_written(date, text, text, bigint, bigint, timestamptz, timestamptz),
audit.archive_verified(date),
audit.archive_drop(date)
to jobs_worker;
grant select on audit.archives to jobs_worker;

create policy "The jobs worker reads the archives it works on" on audit.archives
for select to jobs_worker
using (true);
