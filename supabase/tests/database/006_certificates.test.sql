-- Medical certificates: registration with its scan job, what a name may hold, no URL before the
-- scan has passed, who may review and delete, and the audit of a deletion.

begin;
select tests.create_school();
select plan(24);

-- Registered by the student, pending, with its scan job and no download URL yet.
select tests.authenticate_as('student_a1');
select is(
    app.register_certificate(
        'c1000000-0000-4000-8000-000000000001', 'sick note.pdf', 'flu', 'application/pdf', 984,
        repeat('a', 64), 'c1000000-0000-4000-8000-000000000001.pdf'
    ) ->> 'status',
    'pending',
    'a student registers a certificate, pending'
);
select is(
    api.certificate('c1000000-0000-4000-8000-000000000001') -> 'urlVersion',
    'null'::jsonb,
    'a pending file has no download URL'
);
select throws_ok(
    $$select app.register_certificate(
        'c1000000-0000-4000-8000-000000000002', 'cod' || chr(8238) || 'fdp.exe', null, 'application/pdf', 10,
        repeat('a', 64), 'c1000000-0000-4000-8000-000000000002.pdf')$$,
    '23514',
    null,
    'a name with a bidirectional control is refused'
);
select throws_ok(
    $$select app.register_certificate(
        'c1000000-0000-4000-8000-000000000003', 'two' || chr(8232) || 'lines.pdf', null, 'application/pdf', 10,
        repeat('a', 64), 'c1000000-0000-4000-8000-000000000003.pdf')$$,
    '23514',
    null,
    'and one with a line separator'
);
select throws_ok(
    $$select app.register_certificate(
        'c1000000-0000-4000-8000-000000000004', 'scan.png', null, 'application/pdf', 10,
        repeat('a', 64), 'c1000000-0000-4000-8000-000000000004.png')$$,
    '23514',
    null,
    'a stored name must agree with the type'
);
reset role;
select tests.authenticate_as('teacher_a');
select throws_ok(
    $$select app.check_certificate_uploader()$$,
    '42501',
    null,
    'only a student uploads certificates'
);
reset role;
select is(
    (select count(*) from pgmq.q_jobs_normal
     where message = '{"task": "file_scan", "fileId": "c1000000-0000-4000-8000-000000000001"}'::jsonb),
    1::bigint,
    'its scan job is queued with it'
);
select is(
    (select url_version from app.certificate_for_download('c1000000-0000-4000-8000-000000000001')),
    null,
    'a download finds no version to check a signature against while pending'
);

-- Scanning: still not served; clean: served.
select app.begin_certificate_scan('c1000000-0000-4000-8000-000000000001');
select is(
    (select url_version from app.certificate_for_download('c1000000-0000-4000-8000-000000000001')),
    null,
    'nor while it is scanned'
);
select app.finish_certificate_scan('c1000000-0000-4000-8000-000000000001', '{}', '{builtin}');
select is(
    (select url_version from app.certificate_for_download('c1000000-0000-4000-8000-000000000001')),
    1,
    'a clean file is served'
);
select tests.authenticate_as('student_a1');
select is(
    api.certificate('c1000000-0000-4000-8000-000000000001') -> 'urlVersion',
    '1'::jsonb,
    'and has a download URL'
);
reset role;

-- Who sees it, who reviews it.
select tests.authenticate_as('student_a2');
select is(api.certificates(), '[]'::jsonb, 'a classmate sees none of it');
reset role;
select tests.authenticate_as('teacher_b');
select is(api.certificates(), '[]'::jsonb, 'nor does a teacher of another class');
select throws_ok(
    $$select api.review_certificate('c1000000-0000-4000-8000-000000000001', 'approve')$$,
    'P0002',
    null,
    'who cannot see the file cannot learn it exists by reviewing it'
);
reset role;
select tests.authenticate_as('student_a1');
select throws_ok(
    $$select api.review_certificate('c1000000-0000-4000-8000-000000000001', 'approve')$$,
    '42501',
    null,
    'its student may not review it'
);
reset role;
select tests.authenticate_as('teacher_a');
select is(
    jsonb_array_length(api.certificates()), 1, 'the class''s teacher sees it'
);
select is(
    api.review_certificate('c1000000-0000-4000-8000-000000000001', 'approve') ->> 'status',
    'approved',
    'and approves it'
);
select throws_ok(
    $$select api.delete_certificate('c1000000-0000-4000-8000-000000000001')$$,
    '42501',
    null,
    'but may not delete it'
);
reset role;

-- Deleting: the row, its removal job and the audit entry, in one transaction.
select tests.authenticate_as('student_a1');
select is(
    api.delete_certificate('c1000000-0000-4000-8000-000000000001') ->> 'deleted',
    'true',
    'its student deletes it'
);
reset role;
select is(
    (select count(*) from app.medical_certificates), 0::bigint, 'the row is gone'
);
select is(
    (select message ->> 'storedName' from pgmq.q_jobs_low where message ->> 'task' = 'file_delete'),
    'c1000000-0000-4000-8000-000000000001.pdf',
    'the stored file''s removal is queued'
);
select results_eq(
    $$select user_id, resource_id, metadata ->> 'fileName' from audit.audit_logs where action = 'file_delete'$$,
    $$values (tests.id('student_a1'), 'c1000000-0000-4000-8000-000000000001', 'sick note.pdf')$$,
    'and the deletion is audited, whoever called'
);

-- A student who leaves takes their certificates along, and their files are removed too.
insert into app.students (id, class_id, name, email)
values ('c2000000-0000-4000-8000-000000000001', tests.id('class_a'), 'Leaving', 'leaving@test.example');
insert into app.medical_certificates (id, student_id, file_name, content_type, size_bytes, sha256, stored_name)
values (
    'c2000000-0000-4000-8000-000000000002', 'c2000000-0000-4000-8000-000000000001', 'note.png', 'image/png', 10,
    repeat('b', 64), 'c2000000-0000-4000-8000-000000000002.png'
);
delete from app.students where id = 'c2000000-0000-4000-8000-000000000001';
select is(
    (select count(*) from app.medical_certificates where student_id = 'c2000000-0000-4000-8000-000000000001'),
    0::bigint,
    'a deleted student''s certificates go with them'
);
select is(
    (select count(*) from pgmq.q_jobs_low
     where message = '{"task": "file_delete", "storedName": "c2000000-0000-4000-8000-000000000002.png"}'::jsonb),
    1::bigint,
    'and their stored files'' removal is queued'
);

select * from finish();
rollback;
