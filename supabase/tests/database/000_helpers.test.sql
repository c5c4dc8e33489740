-- Test helpers shared by every pgTAP file (the `supabase test db` convention: files run in
-- name order against one database, so this file installs what the others use and keeps it).

create extension if not exists pgtap;
create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

/** Well-known ids of the test cast, by name. */
create or replace function tests.id(p_name text)
    returns uuid
    language sql
    immutable
as $$
    select case p_name
        when 'class_a' then 'a0000000-0000-4000-8000-00000000000a'
        when 'class_b' then 'b0000000-0000-4000-8000-00000000000b'
        when 'student_a1' then '11111111-1111-4111-8111-111111111111'
        when 'student_a2' then '22222222-2222-4222-8222-222222222222'
        when 'student_b1' then '33333333-3333-4333-8333-333333333333'
        when 'teacher_a' then '44444444-4444-4444-8444-444444444444'
        when 'teacher_b' then '55555555-5555-4555-8555-555555555555'
        when 'admin' then '66666666-6666-4666-8666-666666666666'
    end::uuid
$$;

/**
 * Two classes, three students (two in A, one in B), a teacher for each class, an admin, and
 * two marked periods per student on 2026-09-01.
 */
create or replace function tests.create_school()
    returns void
    language sql
as $$
    insert into app.classes (id, name) values
        (tests.id('class_a'), 'Test 10-A'),
        (tests.id('class_b'), 'Test 10-B');
    insert into app.students (id, class_id, name, email) values
        (tests.id('student_a1'), tests.id('class_a'), 'Student A1', 'a1@test.example'),
        (tests.id('student_a2'), tests.id('class_a'), 'Student A2', 'a2@test.example'),
        (tests.id('student_b1'), tests.id('class_b'), 'Student B1', 'b1@test.example');
    insert into app.staff (id, name, email, role) values
        (tests.id('teacher_a'), 'Teacher A', 'ta@test.example', 'teacher'),
        (tests.id('teacher_b'), 'Teacher B', 'tb@test.example', 'teacher'),
        (tests.id('admin'), 'Admin', 'admin@test.example', 'admin');
    insert into app.class_teachers (class_id, teacher_id) values
        (tests.id('class_a'), tests.id('teacher_a')),
        (tests.id('class_b'), tests.id('teacher_b'));
    insert into app.attendance_records (student_id, class_id, date, period, subject, status, marked_by)
    select s.id, s.class_id, date '2026-09-01', p.period, 'Mathematics', 'present',
           case when s.class_id = tests.id('class_a') then tests.id('teacher_a') else tests.id('teacher_b') end
    from app.students as s
    cross join (values (1), (2)) as p (period);
$$;

/** Become a signed-in user exactly as PostgREST does: role authenticated plus the JWT claims. */
create or replace function tests.authenticate_as(p_name text)
    returns void
    language plpgsql
as $$
begin
    perform set_config('role', 'authenticated', true);
    perform set_config(
        'request.jwt.claims',
        json_build_object('sub', tests.id(p_name), 'role', 'authenticated', 'aud', 'authenticated')::text,
        true
    );
end;
$$;

/** Become an anonymous caller (no token), as PostgREST does. */
create or replace function tests.authenticate_as_anon()
    returns void
    language plpgsql
as $$
begin
    perform set_config('role', 'anon', true);
    perform set_config('request.jwt.claims', '{"role": "anon"}', true);
end;
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

select plan(4);
select has_function('tests', 'id', array['text']);
select has_function('tests', 'create_school', array[]::text[]);
select has_function('tests', 'authenticate_as', array['text']);
select has_function('tests', 'authenticate_as_anon', array[]::text[]);
select * from finish();
