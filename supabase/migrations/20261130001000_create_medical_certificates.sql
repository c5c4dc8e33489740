-- Medical certificates: a student uploads a file for sick days, the worker scans it, staff
-- approve or reject it. The edge streams the bytes to storage under a generated name and then
-- registers them here; the row and its scan job are written in one transaction (P31).
--
-- Status: pending -> scanning -> clean | quarantined; a clean file is then approved or rejected
-- with a reason. Only a clean or approved file is served: before its scan has passed, a file has
-- no download URL. `url_version` is part of every signed download URL's signature: it moves when
-- a file is quarantined or rejected, so the URLs handed out before stop working at once (a
-- deleted file has no row, so its URLs fail too).

create table app.medical_certificates (
    id uuid primary key,
    student_id uuid not null references app.students (id) on delete cascade,
    -- The client's name, kept only as display text.
    file_name text not null,
    description text,
    content_type text not null check (content_type in ('application/pdf', 'image/jpeg', 'image/png')),
    size_bytes integer not null check (size_bytes between 1 and 10485760),
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    -- The object's name in storage: generated, never the client's.
    stored_name text not null unique check (stored_name ~ '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.(pdf|jpg|png)$'),
    status text not null default 'pending' check (
        status in ('pending', 'scanning', 'clean', 'quarantined', 'approved', 'rejected')
    ),
    scan_result jsonb,
    review_reason text check (length(review_reason) between 1 and 1000),
    reviewed_by uuid references app.staff (id) on delete set null,
    reviewed_at timestamptz,
    url_version integer not null default 1 check (url_version >= 1),
    uploaded_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- No path parts, control characters, line separators, or the bidirectional controls that
    -- make "cod.exe" look like "exe.doc".
    constraint medical_certificates_file_name_is_display_text check (
        length(file_name) between 1 and 255
        and file_name !~ '[[:cntrl:]/\\\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]'
        and file_name not in ('.', '..')
    ),
    constraint medical_certificates_stored_name_agrees_with_type check (
        split_part(stored_name, '.', 2) = case content_type
            when 'application/pdf' then 'pdf'
            when 'image/jpeg' then 'jpg'
            else 'png'
        end
    ),
    constraint medical_certificates_description_length check (length(description) <= 1000),
    constraint medical_certificates_rejected_has_reason check (status <> 'rejected' or review_reason is not null),
    constraint medical_certificates_reviewed_when_decided check (
        (status in ('approved', 'rejected')) = (reviewed_at is not null)
    )
);

comment on table app.medical_certificates is
'Uploaded medical certificates: display name, sniffed type, size, sha256, the generated storage name, '
'scan and review outcome. Written only through functions; url_version signs download URLs.';

create index medical_certificates_student_idx on app.medical_certificates (student_id, uploaded_at desc, id desc);
create index medical_certificates_open_idx on app.medical_certificates (status)
where status in ('pending', 'scanning');

alter table app.medical_certificates enable row level security;

revoke all on app.medical_certificates from public, anon, authenticated;
-- Reads only: what a caller sees is decided by the policy below. The stored name and the URL
-- version give nothing without storage credentials and the edge's signing key.
grant select on app.medical_certificates to authenticated;
grant select, insert, update, delete on app.medical_certificates to service_role;

create policy "Students read their certificates, teachers their classes', admins all"
on app.medical_certificates
for select to authenticated
using (
    student_id = (select auth.uid())
    or student_id in (
        select s.id
        from app.students as s
        where s.class_id in (select app.taught_class_ids())
    )
    or (select app.is_admin())
);

/**
 * Every deleted certificate's stored file is removed by a low-priority `file_delete` job, queued
 * in the deleting transaction: whether the row went through api.delete_certificate or with its
 * student (on delete cascade), no medical file outlives its row.
 */
create function app.queue_certificate_file_deletes()
    returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    perform pgmq.send_batch(
        'jobs_low',
        array(select jsonb_build_object('task', 'file_delete', 'storedName', g.stored_name) from gone as g)
    )
    where exists (select 1 from gone);
    return null;
end;
$$;

revoke execute on function app.queue_certificate_file_deletes() from public;

create trigger medical_certificates_files_deleted
after delete on app.medical_certificates
referencing old table as gone
for each statement execute function app.queue_certificate_file_deletes();

/** A certificate as the API shows it (the seed's StoredFileMetadata, camelCase). */
create function app.certificate_json(c app.medical_certificates)
    returns jsonb
    language sql
    immutable
    set search_path = ''
as $$
    select jsonb_build_object(
        'fileId', c.id,
        'studentId', c.student_id,
        'fileName', c.file_name,
        'fileType', c.content_type,
        'fileSize', c.size_bytes,
        'description', c.description,
        'sha256', c.sha256,
        'uploadedAt', c.uploaded_at,
        'status', c.status,
        'rejectionReason', case when c.status = 'rejected' then c.review_reason end,
        'reviewedAt', c.reviewed_at,
        'scanResult', c.scan_result
    )
$$;

revoke execute on function app.certificate_json(app.medical_certificates) from public;
grant execute on function app.certificate_json(app.medical_certificates) to authenticated;

/**
 * The version a download URL of this certificate is signed with, or null while it may not be
 * served: only a clean or approved file is (not before its scan has passed, nor once it is
 * quarantined or rejected). The one rule for listing URLs and for serving downloads.
 */
create function app.certificate_url_version(c app.medical_certificates)
    returns integer
    language sql
    immutable
    set search_path = ''
as $$
    select case when c.status in ('clean', 'approved') then c.url_version end
$$;

revoke execute on function app.certificate_url_version(app.medical_certificates) from public;
grant execute on function app.certificate_url_version(app.medical_certificates) to authenticated, authenticator;

/** An outbox event that the student's certificates changed (their cached reads are dropped). */
create function app.certificates_changed(p_student_id uuid, p_file_id uuid, p_what text)
    returns void
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
begin
    perform app.write_events(
        jsonb_build_array(
            jsonb_build_object(
                'topic', 'inbox_changed',
                'studentId', p_student_id,
                'payload', jsonb_build_object('what', 'files', 'fileId', p_file_id, 'change', p_what)
            )
        )
    );
end;
$$;

revoke execute on function app.certificates_changed(uuid, uuid, text) from public;

/**
 * Register a file the edge has streamed to storage, as the calling student: the row (pending)
 * and its scan job (jobs_normal) in this transaction (P31). Not in the api schema: only the
 * edge, which wrote the bytes and computed their type, size and sha256, may register them.
 * Returns the certificate; its `urlVersion` is null until the scan has passed.
 */
create function app.register_certificate(
    p_id uuid,
    p_file_name text,
    p_description text,
    p_content_type text,
    p_size_bytes integer,
    p_sha256 text,
    p_stored_name text
)
    returns jsonb
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_me uuid := app.caller_student_id();
    v_row app.medical_certificates;
begin
    insert into app.medical_certificates (
        id, student_id, file_name, description, content_type, size_bytes, sha256, stored_name
    )
    values (p_id, v_me, p_file_name, nullif(p_description, ''), p_content_type, p_size_bytes, p_sha256, p_stored_name)
    returning * into v_row;
    perform pgmq.send(
        'jobs_normal',
        jsonb_build_object('task', 'file_scan', 'fileId', v_row.id)
    );
    perform app.certificates_changed(v_me, v_row.id, 'uploaded');
    return app.certificate_json(v_row) || jsonb_build_object('urlVersion', app.certificate_url_version(v_row));
end;
$$;

/**
 * Refuse (42501) a caller who is not a student: the edge asks before it reads an upload's body,
 * so nobody else's upload is streamed to storage only to be refused.
 */
create function app.check_certificate_uploader()
    returns void
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    perform app.caller_student_id();
end;
$$;

revoke execute on function app.check_certificate_uploader() from public;
grant execute on function app.check_certificate_uploader() to authenticated;

revoke execute on function app.register_certificate(uuid, text, text, text, integer, text, text) from public;
grant execute on function app.register_certificate(uuid, text, text, text, integer, text, text) to authenticated;

/**
 * Certificates the caller may see (RLS): a student's own, a teacher's classes', an admin's all;
 * `student_id` narrows to one student. Newest first, `lim` at a time after `skip`. Each has
 * `urlVersion`, which the edge turns into a signed URL while the file may be downloaded
 * (app.certificate_url_version).
 */
create function api.certificates(student_id uuid default null, lim integer default 50, skip integer default 0)
    returns jsonb
    language plpgsql
    stable
    security invoker
    set search_path = ''
as $$
begin
    if lim is null or lim not between 1 and 200 then
        raise exception using errcode = '22023', message = 'limit must be between 1 and 200';
    end if;
    if skip is null or skip < 0 then
        raise exception using errcode = '22023', message = 'offset must be 0 or more';
    end if;
    return coalesce(
        (
            select jsonb_agg(p.item order by p.uploaded_at desc, p.id desc)
            from (
                select
                    c.id,
                    c.uploaded_at,
                    app.certificate_json(c) || jsonb_build_object(
                        'urlVersion', app.certificate_url_version(c)
                    ) as item
                from app.medical_certificates as c
                where certificates.student_id is null or c.student_id = certificates.student_id
                order by c.uploaded_at desc, c.id desc
                limit lim offset skip
            ) as p
        ),
        '[]'::jsonb
    );
end;
$$;

comment on function api.certificates(uuid, integer, integer) is
'Certificates the caller may see (RLS), newest first; urlVersion is null when a file may not be downloaded.';

/**
 * One certificate the caller may see (RLS), with urlVersion as in api.certificates; P0002 when
 * there is none by that id that the caller may see.
 */
create function api.certificate(file_id uuid)
    returns jsonb
    language plpgsql
    stable
    security invoker
    set search_path = ''
as $$
declare
    v_row app.medical_certificates;
begin
    select * into v_row from app.medical_certificates as c where c.id = file_id;
    if v_row.id is null then
        raise exception using errcode = 'P0002', message = format('no certificate %s', file_id);
    end if;
    return app.certificate_json(v_row) || jsonb_build_object(
        'urlVersion', app.certificate_url_version(v_row)
    );
end;
$$;

comment on function api.certificate(uuid) is 'One certificate the caller may see (RLS).';

/**
 * The staff who see and review a student's certificates: an admin, or a teacher of the
 * student's class (the row policy above says the same set-wise, for lists).
 */
create function app.may_review_certificates_of(p_student_id uuid)
    returns boolean
    language plpgsql
    stable
    security definer
    set search_path = ''
as $$
begin
    return app.is_admin()
        or exists (
            select 1 from app.students as s
            where s.id = p_student_id and s.class_id in (select app.taught_class_ids())
        );
end;
$$;

revoke execute on function app.may_review_certificates_of(uuid) from public;

/**
 * The certificate by id, for the security definer functions below, which see every row: P0002
 * when there is none or the caller could not see it (the policy's rule, restated), so a
 * stranger learns nothing about other students' files.
 */
create function app.visible_certificate(p_file_id uuid)
    returns app.medical_certificates
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_row app.medical_certificates;
begin
    select * into v_row from app.medical_certificates as c where c.id = p_file_id for update;
    if v_row.id is null
        or not (
            v_row.student_id = auth.uid()
            or app.may_review_certificates_of(v_row.student_id)
        )
    then
        raise exception using errcode = 'P0002', message = format('no certificate %s', p_file_id);
    end if;
    return v_row;
end;
$$;

revoke execute on function app.visible_certificate(uuid) from public;

/**
 * Delete a certificate: its owner or an admin. The row goes (its URLs stop working), a
 * low-priority `file_delete` job removes the stored object, and a `file_delete` audit entry is
 * written, all in this transaction, whoever calls (the edge or PostgREST). P0002 when the caller
 * cannot see it, 42501 when they may see but not delete it (a teacher).
 */
create function api.delete_certificate(file_id uuid)
    returns jsonb
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_row app.medical_certificates := app.visible_certificate(file_id);
begin
    if v_row.student_id <> auth.uid() and not app.is_admin() then
        raise exception using errcode = '42501', message = 'only the student or an admin may delete a certificate';
    end if;
    -- The stored file's removal is queued by the delete trigger above.
    delete from app.medical_certificates as c where c.id = v_row.id;
    perform audit.log(
        'file_delete',
        'medical_certificate',
        v_row.id::text,
        jsonb_build_object('fileName', v_row.file_name, 'studentId', v_row.student_id, 'status', v_row.status)
    );
    perform app.certificates_changed(v_row.student_id, v_row.id, 'deleted');
    return app.certificate_json(v_row) || jsonb_build_object('deleted', true);
end;
$$;

comment on function api.delete_certificate(uuid) is
'Delete a certificate (its student or an admin); the stored object is removed by the worker.';

/**
 * Approve or reject a clean certificate: a teacher of the student's class or an admin. A
 * rejection needs a reason and revokes the file's URLs. The student is notified per their
 * preferences (file_approved, file_rejected) and the review is audited, in this transaction.
 * P0002 when there is no such file or the caller could not see it (app.visible_certificate),
 * 42501 for its student, 22023 for a bad decision or reason, 55000 unless the file is clean.
 */
create function api.review_certificate(file_id uuid, decision text, reason text default null)
    returns jsonb
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_row app.medical_certificates;
    v_reason text := nullif(btrim(reason), '');
    v_approve boolean;
begin
    if decision is null or decision not in ('approve', 'reject') then
        raise exception using errcode = '22023', message = 'decision must be approve or reject';
    end if;
    v_approve := decision = 'approve';
    if not v_approve and v_reason is null then
        raise exception using errcode = '22023', message = 'a rejection needs a reason';
    end if;
    if length(v_reason) > 1000 then
        raise exception using errcode = '22023', message = 'reason must be at most 1000 characters';
    end if;
    v_row := app.visible_certificate(file_id);
    if not app.may_review_certificates_of(v_row.student_id) then
        raise exception using
            errcode = '42501',
            message = 'only a teacher of the student''s class or an admin may review this certificate';
    end if;
    if v_row.status <> 'clean' then
        raise exception using
            errcode = '55000',
            message = format('only a clean certificate can be reviewed; this one is %s', v_row.status);
    end if;
    update app.medical_certificates as c
    set
        status = case when v_approve then 'approved' else 'rejected' end,
        review_reason = v_reason,
        reviewed_by = auth.uid(),
        reviewed_at = now(),
        updated_at = now(),
        url_version = c.url_version + case when v_approve then 0 else 1 end
    where c.id = v_row.id
    returning * into v_row;
    perform app.create_notifications(
        array[
            row(
                v_row.student_id,
                case when v_approve then 'file_approved' else 'file_rejected' end,
                case when v_approve then 'Medical certificate approved' else 'Medical certificate rejected' end,
                case
                    when v_approve then format('Your certificate %s was approved.', v_row.file_name)
                    else format('Your certificate %s was rejected: %s', v_row.file_name, v_reason)
                end,
                case when v_approve then 'success' else 'warning' end,
                format('/api/students/files/%s', v_row.id),
                jsonb_build_object('fileId', v_row.id, 'decision', decision)
            )::app.new_notification
        ]
    );
    perform audit.log(
        'file_review',
        'medical_certificate',
        v_row.id::text,
        jsonb_build_object(
            'decision', decision, 'reason', v_reason, 'fileName', v_row.file_name, 'studentId', v_row.student_id
        )
    );
    perform app.certificates_changed(v_row.student_id, v_row.id, 'reviewed');
    return app.certificate_json(v_row) || jsonb_build_object(
        'urlVersion', app.certificate_url_version(v_row)
    );
end;
$$;

comment on function api.review_certificate(uuid, text, text) is
'Approve or reject a clean certificate (a teacher of the student''s class or an admin); notifies and audits.';

revoke execute on function
api.certificates(uuid, integer, integer),
api.certificate(uuid),
api.delete_certificate(uuid),
api.review_certificate(uuid, text, text)
from public;
grant execute on function
api.certificates(uuid, integer, integer),
api.certificate(uuid),
api.delete_certificate(uuid),
api.review_certificate(uuid, text, text)
to authenticated;

/**
 * What a signed download needs, for the edge's own role (a download carries no token; its
 * signature is checked by the edge against url_version): no row when there is no such file,
 * a null url_version while it may not be served (app.certificate_url_version).
 */
create function app.certificate_for_download(p_file_id uuid)
    returns table (
        student_id uuid,
        file_name text,
        content_type text,
        size_bytes integer,
        stored_name text,
        status text,
        url_version integer
    )
    language sql
    stable
    security definer
    set search_path = ''
as $$
    select
        c.student_id, c.file_name, c.content_type, c.size_bytes, c.stored_name, c.status,
        app.certificate_url_version(c)
    from app.medical_certificates as c
    where c.id = p_file_id
$$;

revoke execute on function app.certificate_for_download(uuid) from public;
grant execute on function app.certificate_for_download(uuid) to authenticator, service_role;

/**
 * The worker starts a scan: pending (or a scan interrupted earlier) becomes scanning. Returns
 * what the scan needs, or null when the file is gone or already decided.
 */
create function app.begin_certificate_scan(p_file_id uuid)
    returns jsonb
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_row app.medical_certificates;
begin
    update app.medical_certificates as c
    set status = 'scanning', updated_at = now()
    where c.id = p_file_id and c.status in ('pending', 'scanning')
    returning * into v_row;
    if v_row.id is null then
        return null;
    end if;
    return jsonb_build_object(
        'storedName', v_row.stored_name,
        'contentType', v_row.content_type,
        'size', v_row.size_bytes,
        'sha256', v_row.sha256
    );
end;
$$;

/**
 * The worker's verdict. Clean: the file awaits review. Flagged: quarantined, its URLs revoked
 * (url_version moves), its owner notified (file_rejected, per preferences) and a
 * `file_quarantine` audit entry written, in this transaction. Returns the new status, or null
 * when the file is gone or was decided already (a repeated job changes nothing).
 */
create function app.finish_certificate_scan(p_file_id uuid, p_threats text[], p_engines text[])
    returns text
    language plpgsql
    volatile
    security definer
    set search_path = ''
as $$
declare
    v_row app.medical_certificates;
    v_clean boolean := coalesce(cardinality(p_threats), 0) = 0;
begin
    update app.medical_certificates as c
    set
        status = case when v_clean then 'clean' else 'quarantined' end,
        scan_result = jsonb_build_object(
            'clean', v_clean,
            'threats', to_jsonb(coalesce(p_threats, '{}'::text[])),
            'engines', to_jsonb(coalesce(p_engines, '{}'::text[])),
            'scannedAt', now()
        ),
        url_version = c.url_version + case when v_clean then 0 else 1 end,
        updated_at = now()
    where c.id = p_file_id and c.status in ('pending', 'scanning')
    returning * into v_row;
    if v_row.id is null then
        return null;
    end if;
    if not v_clean then
        perform app.create_notifications(
            array[
                row(
                    v_row.student_id,
                    'file_rejected',
                    'Medical certificate quarantined',
                    format(
                        'Your certificate %s was quarantined by the virus scan (%s). Please upload a clean copy.',
                        v_row.file_name,
                        array_to_string(p_threats, ', ')
                    ),
                    'error',
                    format('/api/students/files/%s', v_row.id),
                    jsonb_build_object('fileId', v_row.id, 'quarantined', true, 'threats', to_jsonb(p_threats))
                )::app.new_notification
            ]
        );
        perform audit.log(
            'file_quarantine',
            'medical_certificate',
            v_row.id::text,
            jsonb_build_object('threats', to_jsonb(p_threats), 'engines', to_jsonb(p_engines), 'fileName', v_row.file_name),
            true,
            null,
            v_row.student_id
        );
    end if;
    perform app.certificates_changed(v_row.student_id, v_row.id, v_row.status);
    return v_row.status;
end;
$$;

revoke execute on function
app.begin_certificate_scan(uuid),
app.finish_certificate_scan(uuid, text[], text[])
from public;
grant execute on function
app.begin_certificate_scan(uuid),
app.finish_certificate_scan(uuid, text[], text[])
to jobs_worker, service_role;
