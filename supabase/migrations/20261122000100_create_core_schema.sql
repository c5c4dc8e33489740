-- Core schema: classes, students, staff, who teaches what, and attendance records.
--
-- Authorization lives here. Every table has row-level security: a student reads only their
-- own rows, a teacher reads (and marks attendance for) the classes they teach, an admin
-- reads everything, and `anon` reads nothing. Whether a user is a student, a teacher or an
-- admin comes from these tables, never from a claim the user could choose.

create schema if not exists app;
create schema if not exists api;
create schema if not exists analytics;
create schema if not exists audit;

comment on schema app is 'Private tables and trigger functions; reached through api.* and RLS.';
comment on schema api is 'The public surface: security_invoker views and functions (PostgREST exposes it).';
comment on schema analytics is 'Materialized views and their refresh bookkeeping.';
comment on schema audit is 'The month-partitioned, append-only audit log.';

revoke all on schema app, api, analytics, audit from public;
grant usage on schema app, api to authenticated, service_role;
grant usage on schema api to anon;

/** The five states of a period; only not_marked is excluded from rates. */
create type app.attendance_status as enum ('present', 'absent', 'sick', 'leave', 'not_marked');

/** Staff roles; students are not staff. */
create type app.staff_role as enum ('teacher', 'admin');

/** A class (homeroom group) that students belong to. */
create table app.classes (
    id uuid primary key default gen_random_uuid(),
    name text not null unique,
    created_at timestamptz not null default now(),
    -- Names are shown on dashboards: non-empty, single line, bounded.
    constraint classes_name_check check (name ~ '^\S.{0,119}$')
);

/** A student; the id is the auth user id (the JWT `sub`). */
create table app.students (
    id uuid primary key,
    class_id uuid not null references app.classes (id),
    name text not null check (length(name) between 1 and 200),
    email text not null unique check (email ~ '^[^@\s]+@[^@\s]+$'),
    created_at timestamptz not null default now()
);

create index students_class_id_idx on app.students (class_id);

/** Teachers and admins; the id is the auth user id. */
create table app.staff (
    id uuid primary key,
    name text not null check (length(name) between 1 and 200),
    email text not null unique check (email ~ '^[^@\s]+@[^@\s]+$'),
    role app.staff_role not null,
    created_at timestamptz not null default now()
);

/** Which teacher teaches which class. */
create table app.class_teachers (
    class_id uuid not null references app.classes (id) on delete cascade,
    teacher_id uuid not null references app.staff (id) on delete cascade,
    primary key (class_id, teacher_id)
);

create index class_teachers_teacher_id_idx on app.class_teachers (teacher_id, class_id);

/**
 * One row per student, date and period. class_id is the class the period was held in, so a
 * student who changes class keeps their history with the class that recorded it.
 */
create table app.attendance_records (
    id bigint generated always as identity primary key,
    student_id uuid not null references app.students (id) on delete cascade,
    class_id uuid not null references app.classes (id),
    date date not null,
    -- A school day has at most twelve periods.
    period smallint not null check (period between 1 and 12),
    subject text not null check (length(subject) between 1 and 120),
    status app.attendance_status not null,
    marked_by uuid references app.staff (id) on delete set null,
    marked_at timestamptz not null default now(),
    constraint attendance_records_student_date_period_key unique (student_id, date, period)
);

-- A student's history is served by the unique index (student_id, date, period).
create index attendance_records_class_day_idx on app.attendance_records (class_id, date, period);

/** Is the current user an admin? Security definer: reads staff without recursing into RLS. */
create function app.is_admin()
    returns boolean
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select exists (
        select 1 from app.staff
        where id = (select auth.uid()) and role = 'admin'
    )
$$;

/** Classes the current user teaches (empty for students and strangers). */
create function app.taught_class_ids()
    returns setof uuid
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select ct.class_id
    from app.class_teachers as ct
    inner join app.staff as s on s.id = ct.teacher_id
    where ct.teacher_id = (select auth.uid()) and s.role = 'teacher'
$$;

/** The current user's class when the user is a student, else null. */
create function app.my_class_id()
    returns uuid
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select class_id from app.students where id = (select auth.uid())
$$;

revoke execute on function app.is_admin(), app.taught_class_ids(), app.my_class_id() from public;
grant execute on function app.is_admin(), app.taught_class_ids(), app.my_class_id()
to authenticated, service_role;

alter table app.classes enable row level security;
alter table app.students enable row level security;
alter table app.staff enable row level security;
alter table app.class_teachers enable row level security;
alter table app.attendance_records enable row level security;

revoke all on all tables in schema app from public, anon;
grant select on app.classes, app.students, app.staff, app.class_teachers, app.attendance_records
to authenticated;
grant insert (student_id, class_id, date, period, subject, status, marked_by, marked_at),
update (subject, status, marked_by, marked_at)
on app.attendance_records to authenticated;
grant select, insert, update, delete on all tables in schema app to service_role;

create policy "Members read their classes" on app.classes
for select to authenticated
using (
    id = (select app.my_class_id())
    or id in (select app.taught_class_ids())
    or (select app.is_admin())
);

create policy "Students read themselves and teachers read their classes" on app.students
for select to authenticated
using (
    id = (select auth.uid())
    or class_id in (select app.taught_class_ids())
    or (select app.is_admin())
);

create policy "Staff read themselves and admins read all staff" on app.staff
for select to authenticated
using (
    id = (select auth.uid())
    or (select app.is_admin())
);

create policy "Members read who teaches their classes" on app.class_teachers
for select to authenticated
using (
    teacher_id = (select auth.uid())
    or class_id = (select app.my_class_id())
    or (select app.is_admin())
);

create policy "Students read their attendance and teachers their classes" on app.attendance_records
for select to authenticated
using (
    student_id = (select auth.uid())
    or class_id in (select app.taught_class_ids())
    or (select app.is_admin())
);

create policy "Teachers mark attendance for students of classes they teach" on app.attendance_records
for insert to authenticated
with check (
    class_id in (select app.taught_class_ids())
    and marked_by = (select auth.uid())
    and exists (
        select 1 from app.students as s
        where s.id = attendance_records.student_id and s.class_id = attendance_records.class_id
    )
);

create policy "Teachers correct attendance of classes they teach" on app.attendance_records
for update to authenticated
using (class_id in (select app.taught_class_ids()))
with check (
    class_id in (select app.taught_class_ids())
    and marked_by = (select auth.uid())
);
