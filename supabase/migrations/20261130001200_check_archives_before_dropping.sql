-- Audit archival, two safeguards.
--
-- 1. A month's table is dropped only if it still holds exactly what its archive recorded (row
--    count, first and last timestamps), recomputed here in the dropping transaction: the
--    worker's word that the file was verified is not enough on its own.
-- 2. Detaching a partition takes an exclusive lock on audit.audit_logs, which every audited
--    request then queues behind while the detach waits for readers: the detach gives up after
--    5 s (SQLSTATE 55P03, nothing detached) and the next daily run tries again.

/** Drop the month's table and record it, in one transaction; refuses a month not verified, or
 * whose table no longer holds what its archive recorded. */
create or replace function audit.archive_drop(p_month date)
    returns void
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_archive audit.archives;
    v_now record;
begin
    select * into v_archive from audit.archives where month = p_month for update;
    if v_archive.state is distinct from 'verified' then
        raise exception using
            errcode = '55000',
            message = format(
                'the archive of %s is %s, not verified: its table stays', p_month, coalesce(v_archive.state, 'unknown')
            );
    end if;
    if pg_catalog.to_regclass(format('audit_archive.%I', v_archive.partition_name)) is not null then
        select * into v_now from audit.archive_figures(p_month);
        if (v_now.rows, v_now.first_at, v_now.last_at)
            is distinct from (v_archive.rows, v_archive.first_at, v_archive.last_at)
        then
            raise exception using
                errcode = '55000',
                message = format(
                    'the table of %s holds %s rows from %s to %s, its archive %s from %s to %s: it stays',
                    p_month, v_now.rows, v_now.first_at, v_now.last_at,
                    v_archive.rows, v_archive.first_at, v_archive.last_at
                );
        end if;
    end if;
    execute format('drop table if exists audit_archive.%I', v_archive.partition_name);
    update audit.archives set state = 'dropped', dropped_at = now() where month = p_month;
end;
$$;

alter function audit.detach_for_archive(bigint, interval, timestamptz) set lock_timeout = '5s';
