-- Analytics: who may see which figures, the live fallback, the schedules, and bad input.

begin;
select tests.create_school();
select plan(64);

-- Summaries follow the records (the fixture marked two periods per student, all present).
select results_eq(
    $$select present, marked from app.student_attendance_summary where student_id = tests.id('student_a1')$$,
    $$values (2, 2)$$,
    'the fixture''s records are summarised'
);
select is(
    (select count(*) from app.student_attendance_summary),
    (select count(*) from app.students),
    'every student has exactly one summary row'
);
update app.attendance_records set status = 'absent'
where student_id = tests.id('student_a2') and period = 2;
select results_eq(
    $$select present, absent, marked from app.student_attendance_summary where student_id = tests.id('student_a2')$$,
    $$values (1, 1, 2)$$,
    'a status change moves one count'
);

-- Views start unpopulated: readers compute live and say so.
select ok(
    not (select relispopulated from pg_class where oid = 'analytics.class_statistics'::regclass),
    'class_statistics has not been populated yet'
);
select tests.authenticate_as('student_a1');
select is(api.student_dashboard() -> 'freshness' ->> 'source', 'live', 'an unpopulated view means live figures');
select is((api.student_dashboard() ->> 'attendanceRate')::numeric, 100.00, 'student a1 attends everything');
select is((api.student_dashboard() ->> 'classAverage')::numeric, 75.00, 'class A averages 100 and 50');
select is((api.student_dashboard() ->> 'ranking')::integer, 1, 'student a1 ranks first');
select is((api.class_statistics() ->> 'medianAttendance')::numeric, 75.00, 'median of 100 and 50');
select is((api.class_statistics() ->> 'studentsAtRisk')::integer, 1, '50 % is at risk');
reset role;

-- The level's own comparison decides the boundary: at or below when inclusive, else below.
update app.attendance_thresholds set threshold = 50 where level = 'mahroom';
select tests.authenticate_as('student_a1');
select is((api.class_statistics() ->> 'studentsAtRisk')::integer, 1, 'exactly 50 % is at risk at "at or below 50"');
reset role;
update app.attendance_thresholds set inclusive = false where level = 'mahroom';
select tests.authenticate_as('student_a1');
select is((api.class_statistics() ->> 'studentsAtRisk')::integer, 0, 'but not at "below 50"');
reset role;
update app.attendance_thresholds set threshold = 75, inclusive = true where level = 'mahroom';

refresh materialized view analytics.class_statistics;
refresh materialized view analytics.student_rankings;
delete from analytics.pending_changes;
update analytics.refresh_state set last_finished_at = now() - interval '2 minutes';
select tests.authenticate_as('student_a1');
select is(api.student_dashboard() -> 'freshness' ->> 'source', 'view', 'once populated the view is read');
select is(api.student_dashboard() -> 'freshness' ->> 'stale', 'false', 'two minutes old is fresh');
select is((api.student_ranking() ->> 'totalStudents')::integer, 2, 'two ranked students in class A');
select is((api.student_ranking() ->> 'percentile')::numeric, 100.0, 'the best of two is the 100th percentile');
reset role;

-- A class the views do not hold yet is computed live, not answered with nothing.
insert into app.classes (id, name) values ('c0000000-0000-4000-8000-00000000000c', 'Test 10-C');
insert into app.students (id, class_id, name, email) values
    ('77777777-7777-4777-8777-777777777777', 'c0000000-0000-4000-8000-00000000000c', 'Student C1', 'c1@test.example');
insert into app.attendance_records (student_id, class_id, date, period, subject, status)
values ('77777777-7777-4777-8777-777777777777', 'c0000000-0000-4000-8000-00000000000c', '2026-09-01', 1, 'Art', 'absent'),
       ('77777777-7777-4777-8777-777777777777', 'c0000000-0000-4000-8000-00000000000c', '2026-09-01', 2, 'Art', 'present');
select tests.authenticate_as('admin');
select is(
    api.class_statistics('c0000000-0000-4000-8000-00000000000c') - 'freshness' - 'lastCalculated',
    '{"classId": "c0000000-0000-4000-8000-00000000000c", "className": "Test 10-C", "totalStudents": 1,
      "averageAttendance": 50.00, "medianAttendance": 50.00, "highestAttendance": 50.00,
      "lowestAttendance": 50.00, "studentsAtRisk": 1}'::jsonb,
    'a class created since the refresh gets live figures'
);
select is(
    api.class_rankings('c0000000-0000-4000-8000-00000000000c') #>> '{rankings,0,rank}', '1',
    'and live rankings'
);
reset role;
update app.attendance_records set status = 'absent' where student_id = tests.id('student_a1') and period = 1;
select tests.authenticate_as('admin');
select is(
    (api.class_statistics(tests.id('class_a')) ->> 'averageAttendance')::numeric, 75.00,
    'a class the view holds is still read from it'
);
reset role;
update app.attendance_records set status = 'present' where student_id = tests.id('student_a1') and period = 1;
select is(
    (select count(*) from analytics.class_statistics where class_id = 'c0000000-0000-4000-8000-00000000000c'),
    0::bigint,
    'reading did not put the class in the view'
);
delete from analytics.pending_changes;
update analytics.refresh_state set last_finished_at = now() - interval '11 minutes';
select tests.authenticate_as('student_a1');
select is(api.student_dashboard() -> 'freshness' ->> 'stale', 'true', 'older than ten minutes is stale');
select is(
    (api.student_dashboard() -> 'freshness' ->> 'ageSeconds')::integer between 660 and 670, true,
    'and says how old it is'
);
reset role;

-- refresh_if_dirty does nothing when nothing changed.
update analytics.refresh_state set last_started_at = '2026-01-01', last_finished_at = '2026-01-01 00:00:01';
select is(analytics.refresh_if_dirty(), false, 'refresh_if_dirty skips clean views');
select is(
    (select max(last_started_at) from analytics.refresh_state),
    '2026-01-01'::timestamptz,
    'and leaves their bookkeeping alone'
);
insert into app.attendance_records (student_id, class_id, date, period, subject, status)
values (tests.id('student_b1'), tests.id('class_b'), '2026-09-02', 1, 'Art', 'absent');
select results_eq(
    'select xid from analytics.pending_changes',
    'select pg_current_xact_id()',
    'a change records its transaction as pending'
);
select tests.authenticate_as('student_a1');
select is(api.student_dashboard() -> 'freshness' ->> 'pendingChanges', 'true', 'and readers are told');
reset role;
select is(analytics.refresh_if_dirty(), true, 'then refresh_if_dirty refreshes');
select is((select count(*) from analytics.pending_changes), 0::bigint, 'and covers the change');

-- The freshness bound is one function, and the unconditional refresh runs at least that often.
select is(
    (select schedule from cron.job where jobname = 'analytics-refresh'),
    format('*/%s * * * *', extract(epoch from analytics.freshness_bound())::integer / 60),
    'pg_cron refreshes the views every freshness_bound() minutes'
);
update analytics.refresh_state set last_finished_at = now() - analytics.freshness_bound() + interval '1 second';
select tests.authenticate_as('student_a1');
select is(api.student_dashboard() -> 'freshness' ->> 'stale', 'false', 'just inside the bound is fresh');
reset role;
update analytics.refresh_state set last_finished_at = now() - analytics.freshness_bound() - interval '1 second';
select tests.authenticate_as('student_a1');
select is(api.student_dashboard() -> 'freshness' ->> 'stale', 'true', 'just past it is stale');
reset role;

-- Marked periods: one definition, which the triggers, the recount and the weekly summary share.
select results_eq(
    $$select s::text, app.is_marked(s) from unnest(enum_range(null::app.attendance_status)) as s order by 1$$,
    $$values ('absent', true), ('leave', true), ('not_marked', false), ('present', true), ('sick', true)$$,
    'every status but not_marked counts towards rates'
);
insert into app.attendance_records (student_id, class_id, date, period, subject, status)
values (tests.id('student_b1'), tests.id('class_b'), '2026-09-02', 2, 'Art', 'not_marked');
select results_eq(
    $$select marked, not_marked, attendance_rate from app.student_attendance_summary
      where student_id = tests.id('student_b1')$$,
    $$values (3, 1, 66.67::numeric)$$,
    'the triggers count marked periods and store the rounded rate'
);
select tests.authenticate_as('student_b1');
select is(
    api.weekly_attendance('2026-W36') -> 'summary',
    '{"totalClasses": 3, "presentDays": 2, "absentDays": 1, "sickDays": 0, "leaveDays": 0,
      "notMarked": 1, "attendanceRate": 66.67}'::jsonb,
    'the weekly summary counts the same way'
);
reset role;
set local session_replication_role = replica;
insert into app.attendance_records (student_id, class_id, date, period, subject, status)
values (tests.id('student_b1'), tests.id('class_b'), '2026-09-03', 1, 'Art', 'present'),
       (tests.id('student_b1'), tests.id('class_b'), '2026-09-03', 2, 'Art', 'not_marked');
reset session_replication_role;
select is(app.rebuild_attendance_summaries(), 1::bigint, 'the recount corrects the one student a bulk load skipped');
select results_eq(
    $$select present, marked, not_marked, attendance_rate from app.student_attendance_summary
      where student_id = tests.id('student_b1')$$,
    $$values (3, 4, 2, 75.00::numeric)$$,
    'with the triggers'' definition of marked'
);
select results_eq(
    $$select date, present, marked, records from app.student_attendance_daily
      where student_id = tests.id('student_b1') order by date$$,
    $$values ('2026-09-01'::date, 2, 2, 2), ('2026-09-02'::date, 0, 1, 2), ('2026-09-03'::date, 1, 1, 2)$$,
    'and its days'
);
select is(app.rebuild_attendance_summaries(), 0::bigint, 'a second recount corrects nothing');

-- Who may see whose figures.
select tests.authenticate_as('student_a2');
select throws_ok(
    format('select api.student_dashboard(%L)', tests.id('student_a1')),
    '42501', 'students may only see their own figures', 'a student asking for another student is refused'
);
select throws_ok(
    format('select api.class_statistics(%L)', tests.id('class_b')),
    '42501', 'students may only see their own class', 'a student asking for another class is refused'
);
select throws_ok(
    format('select api.class_rankings(%L)', tests.id('class_a')),
    '42501', 'only staff may see a class''s rankings', 'a student may not list their class''s rankings'
);
select throws_ok(
    format('select api.student_dashboard(%L)', '99999999-9999-4999-8999-999999999999'),
    '42501', null, 'a student learns nothing about unknown ids'
);
select lives_ok(
    format('select api.student_dashboard(%L)', tests.id('student_a2')),
    'a student may name themselves'
);
reset role;

select tests.authenticate_as('teacher_b');
select throws_ok(
    format('select api.student_dashboard(%L)', tests.id('student_a1')),
    '42501', null, 'a teacher of another class is refused a student'
);
select throws_ok(
    format('select api.class_statistics(%L)', tests.id('class_a')),
    '42501', null, 'a teacher of another class is refused the class'
);
select throws_ok(
    format('select api.class_rankings(%L)', tests.id('class_a')),
    '42501', null, 'a teacher of another class is refused its rankings'
);
select throws_ok(
    'select api.student_dashboard()', '42501', null, 'a teacher has no dashboard of their own'
);
select throws_ok(
    format('select api.class_statistics(%L)', '00000000-0000-4000-8000-000000000000'),
    'P0002', 'class 00000000-0000-4000-8000-000000000000 does not exist', 'staff asking for an unknown class get not-found'
);
select throws_ok(
    format('select api.student_ranking(%L)', '99999999-9999-4999-8999-999999999999'),
    'P0002', 'student 99999999-9999-4999-8999-999999999999 does not exist', 'staff asking for an unknown student get not-found'
);
reset role;

select tests.authenticate_as('teacher_a');
select is(
    (api.student_dashboard(tests.id('student_a1')) ->> 'studentId')::uuid, tests.id('student_a1'),
    'the teacher of the class sees its students'
);
select is(
    jsonb_array_length(api.class_rankings(tests.id('class_a')) -> 'rankings'), 2,
    'and their rankings'
);
reset role;

select tests.authenticate_as('admin');
select lives_ok(
    format('select api.class_statistics(%L)', tests.id('class_b')), 'an admin sees any class'
);
select lives_ok(
    format('select api.weekly_attendance(%L, %L)', '2026-W36', tests.id('student_b1')), 'and any student''s week'
);
reset role;

select tests.authenticate_as_anon();
select throws_ok('select api.student_dashboard()', '42501', null, 'anon may not call the dashboard');
reset role;

-- Weeks.
select tests.authenticate_as('student_a1');
select is(
    (api.weekly_attendance('2026-W36') -> 'summary' ->> 'totalClasses')::integer, 2,
    'week 36 of 2026 holds the two marked periods of 1 September'
);
select is(api.weekly_attendance('2026-W36') ->> 'startDate', '2026-08-31', 'ISO weeks start on Monday');
select is(api.weekly_attendance('2021-W01') ->> 'startDate', '2021-01-04', 'ISO week 1 holds 4 January');
select throws_ok($$select api.weekly_attendance('2026-36')$$, '22007', null, 'a week that does not parse');
select throws_ok($$select api.weekly_attendance('2025-W53')$$, '22023', null, '2025 has no week 53');
select lives_ok($$select api.weekly_attendance('2026-W53')$$, '2026 has a week 53');
select throws_ok($$select api.weekly_attendance('2026-W00')$$, '22023', null, 'there is no week 0');
reset role;

-- Schedules.
select is(
    (
        select string_agg(format('%s %s', jobname, schedule), '; ' order by jobname::text)
        from cron.job
        where jobname::text in ('analytics-refresh-if-dirty', 'analytics-refresh', 'cron-prune-run-details')
    ),
    'analytics-refresh */10 * * * *; analytics-refresh-if-dirty * * * * *; cron-prune-run-details 30 3 * * *',
    'pg_cron refreshes every minute when dirty, always every ten minutes, and prunes its history daily'
);

-- TRUNCATE is handled.
truncate app.attendance_records;
select is(
    (select sum(marked + not_marked) from app.student_attendance_summary), 0::bigint,
    'truncating the records zeroes every summary'
);
select is((select count(*) from app.student_attendance_daily), 0::bigint, 'and empties the daily counts');

select * from finish();
rollback;
