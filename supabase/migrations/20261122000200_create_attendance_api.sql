-- The api schema's first objects: who am I, what may I read, and how a teacher marks a class.
-- Views are security_invoker, so the row-level security of app.* decides what each caller sees.

/** The caller's own profile: a student (with their class) or a staff member. */
create view api.profile
with (security_invoker = true) as
select
    s.id,
    'student'::text as kind,
    s.name,
    s.email,
    s.class_id,
    c.name as class_name
from app.students as s
left join app.classes as c on s.class_id = c.id
where s.id = (select auth.uid())
union all
select
    st.id,
    st.role::text as kind,
    st.name,
    st.email,
    null::uuid as class_id,
    null::text as class_name
from app.staff as st
where st.id = (select auth.uid());

comment on view api.profile is
'The caller''s profile: kind is student, teacher or admin; class_id is set for students.';

/** Classes the caller belongs to, teaches, or (admins) all classes. */
create view api.classes
with (security_invoker = true) as
select
    c.id,
    c.name
from app.classes as c;

comment on view api.classes is 'Classes visible to the caller: their own, the ones they teach, or all for admins.';

/** Students the caller may see: themselves, or the rosters of the classes they teach. */
create view api.class_students
with (security_invoker = true) as
select
    s.id,
    s.class_id,
    s.name
from app.students as s;

comment on view api.class_students is 'Class rosters for teachers and admins; a student sees only themselves.';

/** Attendance records the caller may see: their own, or those of classes they teach. */
create view api.attendance_records
with (security_invoker = true) as
select
    r.id,
    r.student_id,
    r.class_id,
    r.date,
    r.period,
    r.subject,
    r.status,
    r.marked_by,
    r.marked_at
from app.attendance_records as r;

comment on view api.attendance_records is
'Attendance per student, date and period: a student''s own, or those of the classes a teacher teaches.';

grant select on api.profile, api.classes, api.class_students, api.attendance_records to authenticated;

/** Does this class exist? Lets mark_attendance tell "unknown" from "not yours". */
create function app.class_exists(p_class_id uuid)
    returns boolean
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select exists (select 1 from app.classes where id = p_class_id)
$$;

/** Which of these ids belong to no student at all. */
create function app.unknown_student_ids(p_ids uuid[])
    returns setof uuid
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select i.id
    from unnest(p_ids) as i (id)
    where not exists (select 1 from app.students as s where s.id = i.id)
$$;

/**
 * Records these students already have for this date and period under another class: a student
 * who changed class keeps the old record, and the new class may not overwrite it. Answers only
 * a teacher of p_class_id (the one caller that needs to know).
 */
create function app.records_in_other_classes(p_class_id uuid, p_date date, p_period integer, p_ids uuid[])
    returns table (student_id uuid, class_id uuid)
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select r.student_id, r.class_id
    from app.attendance_records as r
    where r.student_id = any(p_ids)
        and r.date = p_date
        and r.period = p_period
        and r.class_id <> p_class_id
        and p_class_id in (select app.taught_class_ids())
$$;

revoke execute on function app.class_exists(uuid), app.unknown_student_ids(uuid[]),
app.records_in_other_classes(uuid, date, integer, uuid[]) from public;
grant execute on function app.class_exists(uuid), app.unknown_student_ids(uuid[]),
app.records_in_other_classes(uuid, date, integer, uuid[]) to authenticated;

/**
 * Mark a whole class for one date and period in one statement. Runs as the caller: the
 * checks below give clear errors, and row-level security is what finally enforces them.
 * Marking the same student, date and period again updates the status and marked_at.
 * Every check runs before anything is written, so a bad call writes nothing.
 */
create function api.mark_attendance(
    class_id uuid,
    date date,
    period integer,
    subject text,
    marks jsonb
)
    returns integer
    language plpgsql
    volatile
    security invoker
    set search_path = ''
as $$
declare
    v_caller uuid := auth.uid();
    v_ids uuid[];
    v_bad record;
    v_written integer;
begin
    if v_caller is null then
        raise exception using
            errcode = '28000',
            message = 'mark_attendance needs an authenticated user';
    end if;
    if mark_attendance.class_id is null then
        raise exception using errcode = '22004', message = 'class_id is required';
    end if;
    if mark_attendance.date is null then
        raise exception using errcode = '22004', message = 'date is required';
    end if;
    if mark_attendance.period is null or mark_attendance.period not between 1 and 12 then
        raise exception using
            errcode = '22023',
            message = format('period must be between 1 and 12, got %s', coalesce(mark_attendance.period::text, 'null'));
    end if;
    if mark_attendance.subject is null or length(btrim(mark_attendance.subject)) not between 1 and 120 then
        raise exception using errcode = '22023', message = 'subject must be 1 to 120 characters';
    end if;
    if marks is null or jsonb_typeof(marks) <> 'array' or jsonb_array_length(marks) = 0 then
        raise exception using
            errcode = '22023',
            message = 'marks must be a non-empty JSON array of {"studentId", "status"} objects';
    end if;

    select e.ord - 1 as idx, e.elem into v_bad
    from jsonb_array_elements(marks) with ordinality as e (elem, ord)
    where jsonb_typeof(e.elem) <> 'object'
        or jsonb_typeof(e.elem -> 'studentId') is distinct from 'string'
        or jsonb_typeof(e.elem -> 'status') is distinct from 'string'
    order by e.ord
    limit 1;
    if found then
        raise exception using
            errcode = '22023',
            message = format('marks[%s] must be an object with string fields studentId and status', v_bad.idx);
    end if;

    select e.ord - 1 as idx, e.elem ->> 'studentId' as value into v_bad
    from jsonb_array_elements(marks) with ordinality as e (elem, ord)
    where e.elem ->> 'studentId' !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    order by e.ord
    limit 1;
    if found then
        raise exception using
            errcode = '22P02',
            message = format('marks[%s].studentId is not a uuid: %s', v_bad.idx, v_bad.value);
    end if;

    select e.ord - 1 as idx, e.elem ->> 'status' as value into v_bad
    from jsonb_array_elements(marks) with ordinality as e (elem, ord)
    where (e.elem ->> 'status') <> all (enum_range(null::app.attendance_status)::text[])
    order by e.ord
    limit 1;
    if found then
        raise exception using
            errcode = '22P02',
            message = format(
                'marks[%s].status must be one of %s, got %s',
                v_bad.idx,
                array_to_string(enum_range(null::app.attendance_status)::text[], ', '),
                v_bad.value
            );
    end if;

    select array_agg((e.elem ->> 'studentId')::uuid order by e.ord) into v_ids
    from jsonb_array_elements(marks) with ordinality as e (elem, ord);

    select d.id as value into v_bad
    from unnest(v_ids) as d (id)
    group by d.id
    having count(*) > 1
    limit 1;
    if found then
        raise exception using
            errcode = '21000',
            message = format('student %s appears more than once in marks', v_bad.value);
    end if;

    if not app.class_exists(mark_attendance.class_id) then
        raise exception using
            errcode = 'P0002',
            message = format('class %s does not exist', mark_attendance.class_id);
    end if;
    if not mark_attendance.class_id in (select app.taught_class_ids()) then
        raise exception using
            errcode = '42501',
            message = format('only a teacher of class %s may mark its attendance', mark_attendance.class_id);
    end if;

    select u.id as value into v_bad from app.unknown_student_ids(v_ids) as u (id) limit 1;
    if found then
        raise exception using
            errcode = 'P0002',
            message = format('student %s does not exist', v_bad.value);
    end if;

    select i.id as value into v_bad
    from unnest(v_ids) as i (id)
    where not exists (
        select 1 from app.students as s
        where s.id = i.id and s.class_id = mark_attendance.class_id
    )
    limit 1;
    if found then
        raise exception using
            errcode = '22023',
            message = format('student %s is not in class %s', v_bad.value, mark_attendance.class_id);
    end if;

    select o.student_id as value, o.class_id as other into v_bad
    from app.records_in_other_classes(mark_attendance.class_id, mark_attendance.date, mark_attendance.period, v_ids)
        as o
    limit 1;
    if found then
        raise exception using
            errcode = '23505',
            message = format(
                'student %s already has a record for %s period %s in class %s',
                v_bad.value, mark_attendance.date, mark_attendance.period, v_bad.other
            );
    end if;

    insert into app.attendance_records as r (
        student_id, class_id, date, period, subject, status, marked_by, marked_at
    )
    select
        (e.elem ->> 'studentId')::uuid,
        mark_attendance.class_id,
        mark_attendance.date,
        mark_attendance.period,
        btrim(mark_attendance.subject),
        (e.elem ->> 'status')::app.attendance_status,
        v_caller,
        now()
    from jsonb_array_elements(marks) as e (elem)
    on conflict on constraint attendance_records_student_date_period_key do update
    set status = excluded.status,
        subject = excluded.subject,
        marked_by = excluded.marked_by,
        marked_at = excluded.marked_at;
    get diagnostics v_written = row_count;
    return v_written;
end;
$$;

comment on function api.mark_attendance(uuid, date, integer, text, jsonb) is
'Teachers: mark a class for one date and period. marks = [{"studentId": uuid, "status": '
'"present"|"absent"|"sick"|"leave"|"not_marked"}]. Re-marking updates. Returns the rows written.';

revoke execute on function api.mark_attendance(uuid, date, integer, text, jsonb) from public;
grant execute on function api.mark_attendance(uuid, date, integer, text, jsonb) to authenticated;
