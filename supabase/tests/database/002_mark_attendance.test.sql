-- api.mark_attendance: who may call it, what it writes, and that bad input writes nothing.

begin;
select tests.create_school();
select plan(32);

select has_function('api', 'mark_attendance', array['uuid', 'date', 'integer', 'text', 'jsonb']);
select function_privs_are(
    'api', 'mark_attendance', array['uuid', 'date', 'integer', 'text', 'jsonb'], 'anon', array[]::text[],
    'anon may not execute mark_attendance'
);

-- The teacher of class A marks the whole class in one call.
select tests.authenticate_as('teacher_a');
select is(
    api.mark_attendance(
        tests.id('class_a'), date '2026-09-02', 3, ' Physics ',
        jsonb_build_array(
            jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present'),
            jsonb_build_object('studentId', tests.id('student_a2'), 'status', 'absent')
        )
    ),
    2,
    'marking a class returns the rows written'
);
select results_eq(
    $$select student_id, status::text, subject, marked_by from app.attendance_records
      where date = '2026-09-02' and period = 3 order by student_id$$,
    $$values (tests.id('student_a1'), 'present', 'Physics', tests.id('teacher_a')),
             (tests.id('student_a2'), 'absent', 'Physics', tests.id('teacher_a'))$$,
    'each student gets the status given, the trimmed subject and the marking teacher'
);
reset role;

-- Re-marking updates the status and marked_at instead of adding a row.
update app.attendance_records set marked_at = now() - interval '1 day'
where date = '2026-09-02' and period = 3;
select tests.authenticate_as('teacher_a');
select is(
    api.mark_attendance(
        tests.id('class_a'), date '2026-09-02', 3, 'Physics',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'sick'))
    ),
    1,
    're-marking one student writes one row'
);
select results_eq(
    $$select status::text, marked_at = now() from app.attendance_records
      where student_id = tests.id('student_a1') and date = '2026-09-02' and period = 3$$,
    $$values ('sick', true)$$,
    're-marking updates the status and marked_at'
);
select is(
    (select count(*) from app.attendance_records where date = '2026-09-02' and period = 3),
    2::bigint,
    're-marking adds no row'
);
select is(
    (select status::text from app.attendance_records
     where student_id = tests.id('student_a2') and date = '2026-09-02' and period = 3),
    'absent',
    'students left out of a re-mark keep their status'
);

-- Refused callers.
reset role;
select tests.authenticate_as('teacher_b');
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '42501', format('only a teacher of class %s may mark its attendance', tests.id('class_a')),
    'a teacher of another class is refused'
);
reset role;
select tests.authenticate_as('student_a1');
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '42501', null, 'a student is refused'
);
reset role;
select tests.authenticate_as('admin');
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '42501', null, 'an admin is not a teacher of the class and is refused'
);
reset role;

-- Bad input: each call names its problem, and nothing is written for 2026-09-03.
select tests.authenticate_as('teacher_a');
select throws_ok(
    $$select api.mark_attendance('00000000-0000-4000-8000-000000000000', date '2026-09-03', 1, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    'P0002', 'class 00000000-0000-4000-8000-000000000000 does not exist', 'an unknown class'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art',
        jsonb_build_array(
            jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present'),
            jsonb_build_object('studentId', '99999999-9999-4999-8999-999999999999', 'status', 'present')))$$,
    'P0002', 'student 99999999-9999-4999-8999-999999999999 does not exist', 'an unknown student'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art',
        jsonb_build_array(
            jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present'),
            jsonb_build_object('studentId', tests.id('student_b1'), 'status', 'present')))$$,
    '22023', format('student %s is not in class %s', tests.id('student_b1'), tests.id('class_a')),
    'a student of another class'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art',
        jsonb_build_array(
            jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present'),
            jsonb_build_object('studentId', tests.id('student_a2'), 'status', 'late')))$$,
    '22P02', 'marks[1].status must be one of present, absent, sick, leave, not_marked, got late',
    'an invalid status'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 0, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '22023', 'period must be between 1 and 12, got 0', 'period 0'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 13, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '22023', 'period must be between 1 and 12, got 13', 'period 13'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), '2026-02-30', 1, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '22008', null, 'a malformed date (February 30th)'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), 'next tuesday', 1, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '22007', null, 'a date that does not parse'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art',
        jsonb_build_array(
            jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present'),
            jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'absent')))$$,
    '21000', format('student %s appears more than once in marks', tests.id('student_a1')),
    'the same student twice'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art',
        '[{"studentId": "not-a-uuid", "status": "present"}]')$$,
    '22P02', 'marks[0].studentId is not a uuid: not-a-uuid', 'a student id that is not a uuid'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art', '[]')$$,
    '22023', null, 'an empty marks array'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art', '{"studentId": "x"}')$$,
    '22023', null, 'marks that are not an array'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art', '[{"studentId": 7, "status": "present"}]')$$,
    '22023', 'marks[0] must be an object with string fields studentId and status', 'a mark of the wrong shape'
);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, '   ',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '22023', 'subject must be 1 to 120 characters', 'a blank subject'
);
select throws_ok(
    $$select api.mark_attendance(null, date '2026-09-03', 1, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '22004', 'class_id is required', 'a missing class'
);
reset role;

-- A student who moved to class B keeps class A's record for 1 September, period 1.
update app.students set class_id = tests.id('class_b') where id = tests.id('student_a2');
select tests.authenticate_as('teacher_b');
select throws_ok(
    $$select api.mark_attendance(tests.id('class_b'), date '2026-09-01', 1, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a2'), 'status', 'absent')))$$,
    '23505',
    format('student %s already has a record for 2026-09-01 period 1 in class %s', tests.id('student_a2'), tests.id('class_a')),
    'a period a student already has in another class is refused by name'
);
reset role;
select tests.authenticate_as('student_a1');
select is_empty(
    format(
        'select * from app.records_in_other_classes(%L, %L, 1, array[%L]::uuid[])',
        tests.id('class_b'), '2026-09-01', tests.id('student_a2')
    ),
    'nobody but a teacher of the class learns where its students were marked'
);
reset role;
update app.students set class_id = tests.id('class_a') where id = tests.id('student_a2');

select is(
    (select count(*) from app.attendance_records where date = '2026-09-03'),
    0::bigint,
    'no failed call wrote anything'
);

-- Without claims there is no user.
set local role authenticated;
select set_config('request.jwt.claims', '', true);
select throws_ok(
    $$select api.mark_attendance(tests.id('class_a'), date '2026-09-03', 1, 'Art',
        jsonb_build_array(jsonb_build_object('studentId', tests.id('student_a1'), 'status', 'present')))$$,
    '28000', 'mark_attendance needs an authenticated user', 'a call without a user'
);
reset role;

select ok(
    (select prosecdef = false from pg_proc where oid = 'api.mark_attendance(uuid, date, integer, text, jsonb)'::regprocedure),
    'mark_attendance runs as the caller, so row-level security applies to its writes'
);
select is(
    (select count(*) from app.attendance_records),
    8::bigint,
    'in all: the six seeded rows and the two marked ones'
);

select * from finish();
rollback;
