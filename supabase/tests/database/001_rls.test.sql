-- Row-level security matrix: every app table and api view, for anon, a student, another
-- student, a teacher of the class, a teacher of another class and an admin; both what each
-- may read and what each is refused.

begin;
select tests.create_school();

select plan(82);


-- anon reads nothing: no privilege on any table or view.
select tests.authenticate_as_anon();
select throws_ok('select count(*) from app.classes', '42501', null, 'anon may not read app.classes');
select throws_ok('select count(*) from app.students', '42501', null, 'anon may not read app.students');
select throws_ok('select count(*) from app.staff', '42501', null, 'anon may not read app.staff');
select throws_ok('select count(*) from app.class_teachers', '42501', null, 'anon may not read app.class_teachers');
select throws_ok('select count(*) from app.attendance_records', '42501', null, 'anon may not read app.attendance_records');
select throws_ok('select count(*) from api.profile', '42501', null, 'anon may not read api.profile');
select throws_ok('select count(*) from api.classes', '42501', null, 'anon may not read api.classes');
select throws_ok('select count(*) from api.class_students', '42501', null, 'anon may not read api.class_students');
select throws_ok('select count(*) from api.attendance_records', '42501', null, 'anon may not read api.attendance_records');
select throws_ok($$select api.mark_attendance(tests.id('class_a'), date '2026-09-02', 1, 'Art', '[{"studentId": "11111111-1111-4111-8111-111111111111", "status": "present"}]')$$, '42501', null, 'anon may not mark attendance');
reset role;

-- a student
select tests.authenticate_as('student_a1');
select is((select count(*) from app.classes), 1::bigint, 'a student sees 1 row(s) of app.classes');
select is((select count(*) from app.students), 1::bigint, 'a student sees 1 row(s) of app.students');
select is((select count(*) from app.staff), 0::bigint, 'a student sees 0 row(s) of app.staff');
select is((select count(*) from app.class_teachers), 1::bigint, 'a student sees 1 row(s) of app.class_teachers');
select is((select count(*) from app.attendance_records), 2::bigint, 'a student sees 2 row(s) of app.attendance_records');
select is((select count(*) from api.profile), 1::bigint, 'a student sees 1 row(s) of api.profile');
select is((select count(*) from api.classes), 1::bigint, 'a student sees 1 row(s) of api.classes');
select is((select count(*) from api.class_students), 1::bigint, 'a student sees 1 row(s) of api.class_students');
select is((select count(*) from api.attendance_records), 2::bigint, 'a student sees 2 row(s) of api.attendance_records');
reset role;

-- another student of the same class
select tests.authenticate_as('student_a2');
select is((select count(*) from app.classes), 1::bigint, 'another student of the same class sees 1 row(s) of app.classes');
select is((select count(*) from app.students), 1::bigint, 'another student of the same class sees 1 row(s) of app.students');
select is((select count(*) from app.staff), 0::bigint, 'another student of the same class sees 0 row(s) of app.staff');
select is((select count(*) from app.class_teachers), 1::bigint, 'another student of the same class sees 1 row(s) of app.class_teachers');
select is((select count(*) from app.attendance_records), 2::bigint, 'another student of the same class sees 2 row(s) of app.attendance_records');
select is((select count(*) from api.profile), 1::bigint, 'another student of the same class sees 1 row(s) of api.profile');
select is((select count(*) from api.classes), 1::bigint, 'another student of the same class sees 1 row(s) of api.classes');
select is((select count(*) from api.class_students), 1::bigint, 'another student of the same class sees 1 row(s) of api.class_students');
select is((select count(*) from api.attendance_records), 2::bigint, 'another student of the same class sees 2 row(s) of api.attendance_records');
reset role;

-- the teacher of class A
select tests.authenticate_as('teacher_a');
select is((select count(*) from app.classes), 1::bigint, 'the teacher of class A sees 1 row(s) of app.classes');
select is((select count(*) from app.students), 2::bigint, 'the teacher of class A sees 2 row(s) of app.students');
select is((select count(*) from app.staff), 1::bigint, 'the teacher of class A sees 1 row(s) of app.staff');
select is((select count(*) from app.class_teachers), 1::bigint, 'the teacher of class A sees 1 row(s) of app.class_teachers');
select is((select count(*) from app.attendance_records), 4::bigint, 'the teacher of class A sees 4 row(s) of app.attendance_records');
select is((select count(*) from api.profile), 1::bigint, 'the teacher of class A sees 1 row(s) of api.profile');
select is((select count(*) from api.classes), 1::bigint, 'the teacher of class A sees 1 row(s) of api.classes');
select is((select count(*) from api.class_students), 2::bigint, 'the teacher of class A sees 2 row(s) of api.class_students');
select is((select count(*) from api.attendance_records), 4::bigint, 'the teacher of class A sees 4 row(s) of api.attendance_records');
reset role;

-- a teacher of another class
select tests.authenticate_as('teacher_b');
select is((select count(*) from app.classes), 1::bigint, 'a teacher of another class sees 1 row(s) of app.classes');
select is((select count(*) from app.students), 1::bigint, 'a teacher of another class sees 1 row(s) of app.students');
select is((select count(*) from app.staff), 1::bigint, 'a teacher of another class sees 1 row(s) of app.staff');
select is((select count(*) from app.class_teachers), 1::bigint, 'a teacher of another class sees 1 row(s) of app.class_teachers');
select is((select count(*) from app.attendance_records), 2::bigint, 'a teacher of another class sees 2 row(s) of app.attendance_records');
select is((select count(*) from api.profile), 1::bigint, 'a teacher of another class sees 1 row(s) of api.profile');
select is((select count(*) from api.classes), 1::bigint, 'a teacher of another class sees 1 row(s) of api.classes');
select is((select count(*) from api.class_students), 1::bigint, 'a teacher of another class sees 1 row(s) of api.class_students');
select is((select count(*) from api.attendance_records), 2::bigint, 'a teacher of another class sees 2 row(s) of api.attendance_records');
reset role;

-- an admin
select tests.authenticate_as('admin');
select is((select count(*) from app.classes), 2::bigint, 'an admin sees 2 row(s) of app.classes');
select is((select count(*) from app.students), 3::bigint, 'an admin sees 3 row(s) of app.students');
select is((select count(*) from app.staff), 3::bigint, 'an admin sees 3 row(s) of app.staff');
select is((select count(*) from app.class_teachers), 2::bigint, 'an admin sees 2 row(s) of app.class_teachers');
select is((select count(*) from app.attendance_records), 6::bigint, 'an admin sees 6 row(s) of app.attendance_records');
select is((select count(*) from api.profile), 1::bigint, 'an admin sees 1 row(s) of api.profile');
select is((select count(*) from api.classes), 2::bigint, 'an admin sees 2 row(s) of api.classes');
select is((select count(*) from api.class_students), 3::bigint, 'an admin sees 3 row(s) of api.class_students');
select is((select count(*) from api.attendance_records), 6::bigint, 'an admin sees 6 row(s) of api.attendance_records');
reset role;

-- what a student may not see or do
select tests.authenticate_as('student_a2');
select is(
    (select count(*) from app.attendance_records where student_id = tests.id('student_a1')),
    0::bigint,
    'a student cannot read a classmate''s attendance'
);
select is(
    (select count(*) from api.class_students where id = tests.id('student_a1')),
    0::bigint,
    'a student cannot read a classmate''s roster entry'
);
select throws_ok(
    $$insert into app.attendance_records (student_id, class_id, date, period, subject, status, marked_by)
      values (tests.id('student_a2'), tests.id('class_a'), date '2026-09-02', 1, 'Art', 'present', tests.id('student_a2'))$$,
    '42501', null, 'a student may not write attendance, not even their own'
);
with u as (update app.attendance_records set status = 'present' where student_id = tests.id('student_a2') returning 1)
select is(count(*), 0::bigint, 'a student''s update of their own attendance changes nothing') from u;
select throws_ok(
    $$delete from app.attendance_records$$, '42501', null, 'a student may not delete attendance'
);
select throws_ok($$select count(*) from audit.audit_logs$$, '42501', null, 'a student may not read the audit log');
select throws_ok(
    $$insert into app.classes (name) values ('Sneaky')$$, '42501', null, 'a student may not create classes'
);
reset role;

-- a teacher of another class
select tests.authenticate_as('teacher_b');
select is(
    (select count(*) from app.attendance_records where class_id = tests.id('class_a')),
    0::bigint,
    'a teacher of another class cannot read class A''s attendance'
);
select throws_ok(
    $$insert into app.attendance_records (student_id, class_id, date, period, subject, status, marked_by)
      values (tests.id('student_a1'), tests.id('class_a'), date '2026-09-02', 1, 'Art', 'absent', tests.id('teacher_b'))$$,
    '42501', null, 'a teacher of another class may not mark class A'
);
with u as (update app.attendance_records set status = 'absent' where class_id = tests.id('class_a') returning 1)
select is(count(*), 0::bigint, 'a teacher of another class cannot change class A''s attendance') from u;
reset role;

-- the teacher of the class
select tests.authenticate_as('teacher_a');
select lives_ok(
    $$insert into app.attendance_records (student_id, class_id, date, period, subject, status, marked_by)
      values (tests.id('student_a1'), tests.id('class_a'), date '2026-09-02', 1, 'Art', 'sick', tests.id('teacher_a'))$$,
    'the teacher of class A may mark a student of class A'
);
with u as (update app.attendance_records set status = 'leave' where class_id = tests.id('class_a') and date = '2026-09-01' returning 1)
select is(count(*), 4::bigint, 'the teacher of class A may correct class A''s attendance') from u;
select throws_ok(
    $$insert into app.attendance_records (student_id, class_id, date, period, subject, status, marked_by)
      values (tests.id('student_b1'), tests.id('class_a'), date '2026-09-02', 1, 'Art', 'present', tests.id('teacher_a'))$$,
    '42501', null, 'a teacher may not record a student of another class under their class'
);
select throws_ok(
    $$insert into app.attendance_records (student_id, class_id, date, period, subject, status, marked_by)
      values (tests.id('student_a2'), tests.id('class_a'), date '2026-09-02', 1, 'Art', 'present', tests.id('teacher_b'))$$,
    '42501', null, 'a teacher may not sign a mark with another teacher''s id'
);
select throws_ok(
    $$delete from app.attendance_records where class_id = tests.id('class_a')$$,
    '42501', null, 'a teacher may not delete attendance'
);
select throws_ok(
    $$update app.attendance_records set student_id = tests.id('student_a2') where student_id = tests.id('student_a1')$$,
    '42501', null, 'a teacher may not move a record to another student'
);
reset role;

-- an admin reads everything but is not a teacher
select tests.authenticate_as('admin');
select throws_ok(
    $$insert into app.attendance_records (student_id, class_id, date, period, subject, status, marked_by)
      values (tests.id('student_a1'), tests.id('class_a'), date '2026-09-03', 1, 'Art', 'present', tests.id('admin'))$$,
    '42501', null, 'an admin does not mark attendance (teachers do)'
);
select throws_ok(
    $$update app.staff set role = 'admin'$$, '42501', null, 'nobody edits staff through the API roles'
);
reset role;

-- every app table has row-level security
select ok(
    (select relrowsecurity from pg_class where oid = 'app.classes'::regclass),
    'app.classes has row-level security enabled'
);
select ok(
    (select relrowsecurity from pg_class where oid = 'app.students'::regclass),
    'app.students has row-level security enabled'
);
select ok(
    (select relrowsecurity from pg_class where oid = 'app.staff'::regclass),
    'app.staff has row-level security enabled'
);
select ok(
    (select relrowsecurity from pg_class where oid = 'app.class_teachers'::regclass),
    'app.class_teachers has row-level security enabled'
);
select ok(
    (select relrowsecurity from pg_class where oid = 'app.attendance_records'::regclass),
    'app.attendance_records has row-level security enabled'
);
select ok(
    (select 'security_invoker=true' = any (reloptions) from pg_class where oid = 'api.profile'::regclass),
    'api.profile is security_invoker'
);
select ok(
    (select 'security_invoker=true' = any (reloptions) from pg_class where oid = 'api.classes'::regclass),
    'api.classes is security_invoker'
);
select ok(
    (select 'security_invoker=true' = any (reloptions) from pg_class where oid = 'api.class_students'::regclass),
    'api.class_students is security_invoker'
);
select ok(
    (select 'security_invoker=true' = any (reloptions) from pg_class where oid = 'api.attendance_records'::regclass),
    'api.attendance_records is security_invoker'
);

select * from finish();
rollback;
