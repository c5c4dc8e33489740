-- What a student's export reads: their records in a date range, in date and period order, and
-- the figures of that range. The edge streams the rows as CSV or lays them out as a PDF; the
-- database decides whose rows they are and checks the range.

/** Refuse (22023) a range that is missing or backwards. */
create function app.check_export_range(p_from date, p_to date)
    returns void
    language plpgsql
    immutable
    set search_path = ''
as $$
begin
    if p_from is null or p_to is null then
        raise exception using errcode = '22023', message = 'an export needs both from and to';
    end if;
    if p_to < p_from then
        raise exception using errcode = '22023', message = format('to (%s) is before from (%s)', p_to, p_from);
    end if;
end;
$$;

revoke execute on function app.check_export_range(date, date) from public;

/**
 * The calling student's records from date_from to date_to (both included), in date and period
 * order, with the name of the class each period was held in. Security definer: reads only the
 * caller's rows (app.caller_student_id()), which students may not call themselves.
 */
create function api.export_records(date_from date, date_to date)
    returns table (
        date date,
        period smallint,
        subject text,
        status app.attendance_status,
        class_name text,
        marked_at timestamptz
    )
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_me uuid := app.caller_student_id();
begin
    perform app.check_export_range(date_from, date_to);
    return query
    select r.date, r.period, r.subject, r.status, c.name, r.marked_at
    from app.attendance_records as r
    inner join app.classes as c on r.class_id = c.id
    where r.student_id = v_me and r.date between date_from and date_to
    order by r.date, r.period;
end;
$$;

comment on function api.export_records(date, date) is
'The calling student''s records in a date range, in order (exports). '
'Security definer: only the caller''s rows.';

/**
 * The figures of the calling student's range: who, which class, the counts per status, the
 * marked periods and the rate as the dashboard computes it (app.exact_rate, app.round_rate).
 * Security definer, as api.export_records.
 */
create function api.export_summary(date_from date, date_to date)
    returns jsonb
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
declare
    v_me uuid := app.caller_student_id();
    v_result jsonb;
begin
    perform app.check_export_range(date_from, date_to);
    with counts as (
        select
            count(*) filter (where r.status = 'present')::integer as present,
            count(*) filter (where r.status = 'absent')::integer as absent,
            count(*) filter (where r.status = 'sick')::integer as sick,
            count(*) filter (where r.status = 'leave')::integer as leave,
            count(*) filter (where r.status = 'not_marked')::integer as not_marked,
            count(*) filter (where app.is_marked(r.status))::integer as marked
        from app.attendance_records as r
        where r.student_id = v_me and r.date between date_from and date_to
    )
    select jsonb_build_object(
        'studentId', s.id,
        'studentName', s.name,
        'className', c.name,
        'from', date_from,
        'to', date_to,
        'totalClasses', k.marked,
        'presentDays', k.present,
        'absentDays', k.absent,
        'sickDays', k.sick,
        'leaveDays', k.leave,
        'notMarked', k.not_marked,
        'attendanceRate', app.round_rate(app.exact_rate(k.present, k.marked)),
        'generatedAt', now()
    )
    into v_result
    from app.students as s
    inner join app.classes as c on s.class_id = c.id
    cross join counts as k
    where s.id = v_me;
    return v_result;
end;
$$;

comment on function api.export_summary(date, date) is
'The calling student''s figures over a date range (the head of an export). '
'Security definer: only the caller''s rows.';

revoke execute on function api.export_records(date, date), api.export_summary(date, date) from public;
grant execute on function api.export_records(date, date), api.export_summary(date, date) to authenticated;
