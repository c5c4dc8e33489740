--
-- PostgreSQL database dump
--



SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: analytics; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA analytics;


ALTER SCHEMA analytics OWNER TO postgres;

--
-- Name: SCHEMA analytics; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SCHEMA analytics IS 'Materialized views and their refresh bookkeeping.';


--
-- Name: api; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA api;


ALTER SCHEMA api OWNER TO postgres;

--
-- Name: SCHEMA api; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SCHEMA api IS 'The public surface: security_invoker views and functions (PostgREST exposes it).';


--
-- Name: app; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA app;


ALTER SCHEMA app OWNER TO postgres;

--
-- Name: SCHEMA app; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SCHEMA app IS 'Private tables and trigger functions; reached through api.* and RLS.';


--
-- Name: audit; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA audit;


ALTER SCHEMA audit OWNER TO postgres;

--
-- Name: SCHEMA audit; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SCHEMA audit IS 'The month-partitioned, append-only audit log.';


--
-- Name: audit_archive; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA audit_archive;


ALTER SCHEMA audit_archive OWNER TO postgres;

--
-- Name: SCHEMA audit_archive; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SCHEMA audit_archive IS 'Detached audit partitions waiting to be archived to storage.';


--
-- Name: auth; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA auth;


ALTER SCHEMA auth OWNER TO postgres;

--
-- Name: pg_cron; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_cron WITH SCHEMA public;


--
-- Name: EXTENSION pg_cron; Type: COMMENT; Schema: -; Owner: 
--

COMMENT ON EXTENSION pg_cron IS 'Job scheduler for PostgreSQL';


--
-- Name: supabase_migrations; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA supabase_migrations;


ALTER SCHEMA supabase_migrations OWNER TO postgres;

--
-- Name: attendance_status; Type: TYPE; Schema: app; Owner: postgres
--

CREATE TYPE app.attendance_status AS ENUM (
    'present',
    'absent',
    'sick',
    'leave',
    'not_marked'
);


ALTER TYPE app.attendance_status OWNER TO postgres;

--
-- Name: staff_role; Type: TYPE; Schema: app; Owner: postgres
--

CREATE TYPE app.staff_role AS ENUM (
    'teacher',
    'admin'
);


ALTER TYPE app.staff_role OWNER TO postgres;

--
-- Name: mark_attendance(uuid, date, integer, text, jsonb); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
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
$_$;


ALTER FUNCTION api.mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb) OWNER TO postgres;

--
-- Name: FUNCTION mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb) IS 'Teachers: mark a class for one date and period. marks = [{"studentId": uuid, "status": "present"|"absent"|"sick"|"leave"|"not_marked"}]. Re-marking updates. Returns the rows written.';


--
-- Name: class_exists(uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.class_exists(p_class_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select exists (select 1 from app.classes where id = p_class_id)
$$;


ALTER FUNCTION app.class_exists(p_class_id uuid) OWNER TO postgres;

--
-- Name: is_admin(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.is_admin() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select exists (
        select 1 from app.staff
        where id = (select auth.uid()) and role = 'admin'
    )
$$;


ALTER FUNCTION app.is_admin() OWNER TO postgres;

--
-- Name: my_class_id(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.my_class_id() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select class_id from app.students where id = (select auth.uid())
$$;


ALTER FUNCTION app.my_class_id() OWNER TO postgres;

--
-- Name: taught_class_ids(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.taught_class_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select ct.class_id
    from app.class_teachers as ct
    inner join app.staff as s on s.id = ct.teacher_id
    where ct.teacher_id = (select auth.uid()) and s.role = 'teacher'
$$;


ALTER FUNCTION app.taught_class_ids() OWNER TO postgres;

--
-- Name: unknown_student_ids(uuid[]); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.unknown_student_ids(p_ids uuid[]) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select i.id
    from unnest(p_ids) as i (id)
    where not exists (select 1 from app.students as s where s.id = i.id)
$$;


ALTER FUNCTION app.unknown_student_ids(p_ids uuid[]) OWNER TO postgres;

--
-- Name: create_partitions(integer, date); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.create_partitions(p_months_ahead integer DEFAULT 3, p_from date DEFAULT CURRENT_DATE) RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_start date;
    v_end date;
    v_name text;
begin
    if p_months_ahead is null or p_months_ahead not between 0 and 120 then
        raise exception using
            errcode = '22023',
            message = format('p_months_ahead must be between 0 and 120, got %s', p_months_ahead);
    end if;
    perform set_config('audit.maintenance', 'on', true);
    for i in 0 .. p_months_ahead loop
        v_start := (date_trunc('month', p_from) + make_interval(months => i))::date;
        v_end := (v_start + interval '1 month')::date;
        v_name := format('audit_logs_y%sm%s', to_char(v_start, 'YYYY'), to_char(v_start, 'MM'));
        continue when to_regclass(format('audit.%I', v_name)) is not null;

        execute format(
            'create table audit.%I (like audit.audit_logs including defaults including constraints)',
            v_name
        );
        execute format(
            'with moved as (delete from audit.audit_logs_default where timestamp >= %L and timestamp < %L returning *)'
            ' insert into audit.%I select * from moved',
            v_start, v_end, v_name
        );
        execute format(
            'alter table audit.audit_logs attach partition audit.%I for values from (%L) to (%L)',
            v_name, v_start, v_end
        );
        return next v_name;
    end loop;
    perform set_config('audit.maintenance', 'off', true);
end;
$$;


ALTER FUNCTION audit.create_partitions(p_months_ahead integer, p_from date) OWNER TO postgres;

--
-- Name: FUNCTION create_partitions(p_months_ahead integer, p_from date); Type: COMMENT; Schema: audit; Owner: postgres
--

COMMENT ON FUNCTION audit.create_partitions(p_months_ahead integer, p_from date) IS 'Create monthly audit partitions ahead (idempotent); moves matching rows out of the default partition.';


--
-- Name: log(text, text, text, jsonb, boolean, text, uuid, inet, text); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.log(p_action text, p_resource text, p_resource_id text DEFAULT NULL::text, p_metadata jsonb DEFAULT '{}'::jsonb, p_success boolean DEFAULT true, p_error_message text DEFAULT NULL::text, p_user_id uuid DEFAULT NULL::uuid, p_ip_address inet DEFAULT NULL::inet, p_user_agent text DEFAULT NULL::text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_id uuid;
begin
    insert into audit.audit_logs (
        user_id, action, resource, resource_id, metadata, ip_address, user_agent, success, error_message
    )
    values (
        coalesce(p_user_id, auth.uid()),
        p_action,
        p_resource,
        p_resource_id,
        audit.redact(coalesce(p_metadata, '{}'::jsonb)),
        p_ip_address,
        left(p_user_agent, 512),
        coalesce(p_success, true),
        p_error_message
    )
    returning id into v_id;
    return v_id;
end;
$$;


ALTER FUNCTION audit.log(p_action text, p_resource text, p_resource_id text, p_metadata jsonb, p_success boolean, p_error_message text, p_user_id uuid, p_ip_address inet, p_user_agent text) OWNER TO postgres;

--
-- Name: FUNCTION log(p_action text, p_resource text, p_resource_id text, p_metadata jsonb, p_success boolean, p_error_message text, p_user_id uuid, p_ip_address inet, p_user_agent text); Type: COMMENT; Schema: audit; Owner: postgres
--

COMMENT ON FUNCTION audit.log(p_action text, p_resource text, p_resource_id text, p_metadata jsonb, p_success boolean, p_error_message text, p_user_id uuid, p_ip_address inet, p_user_agent text) IS 'Append one audit entry (the only write application roles have on the audit log).';


--
-- Name: redact(jsonb); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.redact(p_metadata jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
    select coalesce(
        jsonb_object_agg(
            key,
            case
                when key ~* '(token|password|secret|authorization|jwt|api_?key|cookie|signature|sig)'
                    then to_jsonb('[redacted]'::text)
                when jsonb_typeof(value) = 'object' then audit.redact(value)
                else value
            end
        ),
        '{}'::jsonb
    )
    from jsonb_each(case when jsonb_typeof(p_metadata) = 'object' then p_metadata else '{}'::jsonb end)
$$;


ALTER FUNCTION audit.redact(p_metadata jsonb) OWNER TO postgres;

--
-- Name: tg_audit_logs__immutable(); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.tg_audit_logs__immutable() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
    if tg_op = 'DELETE' and current_setting('audit.maintenance', true) = 'on' then
        return old;
    end if;
    raise exception using
        errcode = '42501',
        message = format('audit log entries are immutable: %s is not allowed', lower(tg_op));
end;
$$;


ALTER FUNCTION audit.tg_audit_logs__immutable() OWNER TO postgres;

--
-- Name: tg_audit_logs__no_truncate(); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.tg_audit_logs__no_truncate() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
    raise exception using
        errcode = '42501',
        message = 'audit log entries are immutable: truncate is not allowed';
end;
$$;


ALTER FUNCTION audit.tg_audit_logs__no_truncate() OWNER TO postgres;

--
-- Name: jwt(); Type: FUNCTION; Schema: auth; Owner: postgres
--

CREATE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
            select coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
        $$;


ALTER FUNCTION auth.jwt() OWNER TO postgres;

--
-- Name: role(); Type: FUNCTION; Schema: auth; Owner: postgres
--

CREATE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE
    AS $$
            select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', '')::text
        $$;


ALTER FUNCTION auth.role() OWNER TO postgres;

--
-- Name: uid(); Type: FUNCTION; Schema: auth; Owner: postgres
--

CREATE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$
            select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
        $$;


ALTER FUNCTION auth.uid() OWNER TO postgres;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: attendance_records; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.attendance_records (
    id bigint NOT NULL,
    student_id uuid NOT NULL,
    class_id uuid NOT NULL,
    date date NOT NULL,
    period smallint NOT NULL,
    subject text NOT NULL,
    status app.attendance_status NOT NULL,
    marked_by uuid,
    marked_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT attendance_records_period_check CHECK (((period >= 1) AND (period <= 12))),
    CONSTRAINT attendance_records_subject_check CHECK (((length(subject) >= 1) AND (length(subject) <= 120)))
);


ALTER TABLE app.attendance_records OWNER TO postgres;

--
-- Name: attendance_records; Type: VIEW; Schema: api; Owner: postgres
--

CREATE VIEW api.attendance_records WITH (security_invoker='true') AS
 SELECT r.id,
    r.student_id,
    r.class_id,
    r.date,
    r.period,
    r.subject,
    r.status,
    r.marked_by,
    r.marked_at
   FROM app.attendance_records r;


ALTER TABLE api.attendance_records OWNER TO postgres;

--
-- Name: VIEW attendance_records; Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON VIEW api.attendance_records IS 'Attendance per student, date and period: a student''s own, or those of the classes a teacher teaches.';


--
-- Name: students; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.students (
    id uuid NOT NULL,
    class_id uuid NOT NULL,
    name text NOT NULL,
    email text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT students_email_check CHECK ((email ~ '^[^@\s]+@[^@\s]+$'::text)),
    CONSTRAINT students_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);


ALTER TABLE app.students OWNER TO postgres;

--
-- Name: class_students; Type: VIEW; Schema: api; Owner: postgres
--

CREATE VIEW api.class_students WITH (security_invoker='true') AS
 SELECT s.id,
    s.class_id,
    s.name
   FROM app.students s;


ALTER TABLE api.class_students OWNER TO postgres;

--
-- Name: VIEW class_students; Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON VIEW api.class_students IS 'Class rosters for teachers and admins; a student sees only themselves.';


--
-- Name: classes; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.classes (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT classes_name_check CHECK ((name ~ '^\S.{0,119}$'::text))
);


ALTER TABLE app.classes OWNER TO postgres;

--
-- Name: classes; Type: VIEW; Schema: api; Owner: postgres
--

CREATE VIEW api.classes WITH (security_invoker='true') AS
 SELECT c.id,
    c.name
   FROM app.classes c;


ALTER TABLE api.classes OWNER TO postgres;

--
-- Name: VIEW classes; Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON VIEW api.classes IS 'Classes visible to the caller: their own, the ones they teach, or all for admins.';


--
-- Name: staff; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.staff (
    id uuid NOT NULL,
    name text NOT NULL,
    email text NOT NULL,
    role app.staff_role NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT staff_email_check CHECK ((email ~ '^[^@\s]+@[^@\s]+$'::text)),
    CONSTRAINT staff_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);


ALTER TABLE app.staff OWNER TO postgres;

--
-- Name: profile; Type: VIEW; Schema: api; Owner: postgres
--

CREATE VIEW api.profile WITH (security_invoker='true') AS
 SELECT s.id,
    'student'::text AS kind,
    s.name,
    s.email,
    s.class_id,
    c.name AS class_name
   FROM (app.students s
     LEFT JOIN app.classes c ON ((s.class_id = c.id)))
  WHERE (s.id = ( SELECT auth.uid() AS uid))
UNION ALL
 SELECT st.id,
    (st.role)::text AS kind,
    st.name,
    st.email,
    NULL::uuid AS class_id,
    NULL::text AS class_name
   FROM app.staff st
  WHERE (st.id = ( SELECT auth.uid() AS uid));


ALTER TABLE api.profile OWNER TO postgres;

--
-- Name: VIEW profile; Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON VIEW api.profile IS 'The caller''s profile: kind is student, teacher or admin; class_id is set for students.';


--
-- Name: attendance_records_id_seq; Type: SEQUENCE; Schema: app; Owner: postgres
--

ALTER TABLE app.attendance_records ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app.attendance_records_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: class_teachers; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.class_teachers (
    class_id uuid NOT NULL,
    teacher_id uuid NOT NULL
);


ALTER TABLE app.class_teachers OWNER TO postgres;

--
-- Name: audit_logs; Type: TABLE; Schema: audit; Owner: postgres
--

CREATE TABLE audit.audit_logs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid,
    action text NOT NULL,
    resource text NOT NULL,
    resource_id text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    ip_address inet,
    user_agent text,
    "timestamp" timestamp with time zone DEFAULT now() NOT NULL,
    success boolean DEFAULT true NOT NULL,
    error_message text,
    CONSTRAINT audit_logs_action_check CHECK ((action ~ '^[a-z][a-z0-9_]{0,49}$'::text)),
    CONSTRAINT audit_logs_resource_check CHECK (((length(resource) >= 1) AND (length(resource) <= 100))),
    CONSTRAINT audit_logs_resource_id_check CHECK ((length(resource_id) <= 255))
)
PARTITION BY RANGE ("timestamp");


ALTER TABLE audit.audit_logs OWNER TO postgres;

--
-- Name: audit_logs_default; Type: TABLE; Schema: audit; Owner: postgres
--

CREATE TABLE audit.audit_logs_default (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid,
    action text NOT NULL,
    resource text NOT NULL,
    resource_id text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    ip_address inet,
    user_agent text,
    "timestamp" timestamp with time zone DEFAULT now() NOT NULL,
    success boolean DEFAULT true NOT NULL,
    error_message text,
    CONSTRAINT audit_logs_action_check CHECK ((action ~ '^[a-z][a-z0-9_]{0,49}$'::text)),
    CONSTRAINT audit_logs_resource_check CHECK (((length(resource) >= 1) AND (length(resource) <= 100))),
    CONSTRAINT audit_logs_resource_id_check CHECK ((length(resource_id) <= 255))
);


ALTER TABLE audit.audit_logs_default OWNER TO postgres;

--
-- Name: schema_migration_checksums; Type: TABLE; Schema: supabase_migrations; Owner: postgres
--

CREATE TABLE supabase_migrations.schema_migration_checksums (
    version text NOT NULL,
    sha256 text NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE supabase_migrations.schema_migration_checksums OWNER TO postgres;

--
-- Name: schema_migrations; Type: TABLE; Schema: supabase_migrations; Owner: postgres
--

CREATE TABLE supabase_migrations.schema_migrations (
    version text NOT NULL,
    statements text[],
    name text
);


ALTER TABLE supabase_migrations.schema_migrations OWNER TO postgres;

--
-- Name: audit_logs_default; Type: TABLE ATTACH; Schema: audit; Owner: postgres
--

ALTER TABLE ONLY audit.audit_logs ATTACH PARTITION audit.audit_logs_default DEFAULT;


--
-- Name: attendance_records attendance_records_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.attendance_records
    ADD CONSTRAINT attendance_records_pkey PRIMARY KEY (id);


--
-- Name: attendance_records attendance_records_student_date_period_key; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.attendance_records
    ADD CONSTRAINT attendance_records_student_date_period_key UNIQUE (student_id, date, period);


--
-- Name: class_teachers class_teachers_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.class_teachers
    ADD CONSTRAINT class_teachers_pkey PRIMARY KEY (class_id, teacher_id);


--
-- Name: classes classes_name_key; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.classes
    ADD CONSTRAINT classes_name_key UNIQUE (name);


--
-- Name: classes classes_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.classes
    ADD CONSTRAINT classes_pkey PRIMARY KEY (id);


--
-- Name: staff staff_email_key; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.staff
    ADD CONSTRAINT staff_email_key UNIQUE (email);


--
-- Name: staff staff_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.staff
    ADD CONSTRAINT staff_pkey PRIMARY KEY (id);


--
-- Name: students students_email_key; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.students
    ADD CONSTRAINT students_email_key UNIQUE (email);


--
-- Name: students students_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.students
    ADD CONSTRAINT students_pkey PRIMARY KEY (id);


--
-- Name: audit_logs audit_logs_pkey; Type: CONSTRAINT; Schema: audit; Owner: postgres
--

ALTER TABLE ONLY audit.audit_logs
    ADD CONSTRAINT audit_logs_pkey PRIMARY KEY (id, "timestamp");


--
-- Name: audit_logs_default audit_logs_default_pkey; Type: CONSTRAINT; Schema: audit; Owner: postgres
--

ALTER TABLE ONLY audit.audit_logs_default
    ADD CONSTRAINT audit_logs_default_pkey PRIMARY KEY (id, "timestamp");


--
-- Name: schema_migration_checksums schema_migration_checksums_pkey; Type: CONSTRAINT; Schema: supabase_migrations; Owner: postgres
--

ALTER TABLE ONLY supabase_migrations.schema_migration_checksums
    ADD CONSTRAINT schema_migration_checksums_pkey PRIMARY KEY (version);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: supabase_migrations; Owner: postgres
--

ALTER TABLE ONLY supabase_migrations.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: attendance_records_class_day_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX attendance_records_class_day_idx ON app.attendance_records USING btree (class_id, date, period);


--
-- Name: class_teachers_teacher_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX class_teachers_teacher_id_idx ON app.class_teachers USING btree (teacher_id, class_id);


--
-- Name: students_class_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX students_class_id_idx ON app.students USING btree (class_id);


--
-- Name: audit_logs_action_idx; Type: INDEX; Schema: audit; Owner: postgres
--

CREATE INDEX audit_logs_action_idx ON ONLY audit.audit_logs USING btree (action, "timestamp" DESC);


--
-- Name: audit_logs_default_action_timestamp_idx; Type: INDEX; Schema: audit; Owner: postgres
--

CREATE INDEX audit_logs_default_action_timestamp_idx ON audit.audit_logs_default USING btree (action, "timestamp" DESC);


--
-- Name: audit_logs_resource_idx; Type: INDEX; Schema: audit; Owner: postgres
--

CREATE INDEX audit_logs_resource_idx ON ONLY audit.audit_logs USING btree (resource, resource_id);


--
-- Name: audit_logs_default_resource_resource_id_idx; Type: INDEX; Schema: audit; Owner: postgres
--

CREATE INDEX audit_logs_default_resource_resource_id_idx ON audit.audit_logs_default USING btree (resource, resource_id);


--
-- Name: audit_logs_timestamp_idx; Type: INDEX; Schema: audit; Owner: postgres
--

CREATE INDEX audit_logs_timestamp_idx ON ONLY audit.audit_logs USING btree ("timestamp" DESC);


--
-- Name: audit_logs_default_timestamp_idx; Type: INDEX; Schema: audit; Owner: postgres
--

CREATE INDEX audit_logs_default_timestamp_idx ON audit.audit_logs_default USING btree ("timestamp" DESC);


--
-- Name: audit_logs_user_id_idx; Type: INDEX; Schema: audit; Owner: postgres
--

CREATE INDEX audit_logs_user_id_idx ON ONLY audit.audit_logs USING btree (user_id, "timestamp" DESC);


--
-- Name: audit_logs_default_user_id_timestamp_idx; Type: INDEX; Schema: audit; Owner: postgres
--

CREATE INDEX audit_logs_default_user_id_timestamp_idx ON audit.audit_logs_default USING btree (user_id, "timestamp" DESC);


--
-- Name: audit_logs_default_action_timestamp_idx; Type: INDEX ATTACH; Schema: audit; Owner: postgres
--

ALTER INDEX audit.audit_logs_action_idx ATTACH PARTITION audit.audit_logs_default_action_timestamp_idx;


--
-- Name: audit_logs_default_pkey; Type: INDEX ATTACH; Schema: audit; Owner: postgres
--

ALTER INDEX audit.audit_logs_pkey ATTACH PARTITION audit.audit_logs_default_pkey;


--
-- Name: audit_logs_default_resource_resource_id_idx; Type: INDEX ATTACH; Schema: audit; Owner: postgres
--

ALTER INDEX audit.audit_logs_resource_idx ATTACH PARTITION audit.audit_logs_default_resource_resource_id_idx;


--
-- Name: audit_logs_default_timestamp_idx; Type: INDEX ATTACH; Schema: audit; Owner: postgres
--

ALTER INDEX audit.audit_logs_timestamp_idx ATTACH PARTITION audit.audit_logs_default_timestamp_idx;


--
-- Name: audit_logs_default_user_id_timestamp_idx; Type: INDEX ATTACH; Schema: audit; Owner: postgres
--

ALTER INDEX audit.audit_logs_user_id_idx ATTACH PARTITION audit.audit_logs_default_user_id_timestamp_idx;


--
-- Name: audit_logs _100_immutable; Type: TRIGGER; Schema: audit; Owner: postgres
--

CREATE TRIGGER _100_immutable BEFORE DELETE OR UPDATE ON audit.audit_logs FOR EACH ROW EXECUTE FUNCTION audit.tg_audit_logs__immutable();


--
-- Name: audit_logs _100_no_truncate; Type: TRIGGER; Schema: audit; Owner: postgres
--

CREATE TRIGGER _100_no_truncate BEFORE TRUNCATE ON audit.audit_logs FOR EACH STATEMENT EXECUTE FUNCTION audit.tg_audit_logs__no_truncate();


--
-- Name: attendance_records attendance_records_class_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.attendance_records
    ADD CONSTRAINT attendance_records_class_id_fkey FOREIGN KEY (class_id) REFERENCES app.classes(id);


--
-- Name: attendance_records attendance_records_marked_by_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.attendance_records
    ADD CONSTRAINT attendance_records_marked_by_fkey FOREIGN KEY (marked_by) REFERENCES app.staff(id) ON DELETE SET NULL;


--
-- Name: attendance_records attendance_records_student_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.attendance_records
    ADD CONSTRAINT attendance_records_student_id_fkey FOREIGN KEY (student_id) REFERENCES app.students(id) ON DELETE CASCADE;


--
-- Name: class_teachers class_teachers_class_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.class_teachers
    ADD CONSTRAINT class_teachers_class_id_fkey FOREIGN KEY (class_id) REFERENCES app.classes(id) ON DELETE CASCADE;


--
-- Name: class_teachers class_teachers_teacher_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.class_teachers
    ADD CONSTRAINT class_teachers_teacher_id_fkey FOREIGN KEY (teacher_id) REFERENCES app.staff(id) ON DELETE CASCADE;


--
-- Name: students students_class_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.students
    ADD CONSTRAINT students_class_id_fkey FOREIGN KEY (class_id) REFERENCES app.classes(id);


--
-- Name: classes Members read their classes; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Members read their classes" ON app.classes FOR SELECT TO authenticated USING (((id = ( SELECT app.my_class_id() AS my_class_id)) OR (id IN ( SELECT app.taught_class_ids() AS taught_class_ids)) OR ( SELECT app.is_admin() AS is_admin)));


--
-- Name: class_teachers Members read who teaches their classes; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Members read who teaches their classes" ON app.class_teachers FOR SELECT TO authenticated USING (((teacher_id = ( SELECT auth.uid() AS uid)) OR (class_id = ( SELECT app.my_class_id() AS my_class_id)) OR ( SELECT app.is_admin() AS is_admin)));


--
-- Name: staff Staff read themselves and admins read all staff; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Staff read themselves and admins read all staff" ON app.staff FOR SELECT TO authenticated USING (((id = ( SELECT auth.uid() AS uid)) OR ( SELECT app.is_admin() AS is_admin)));


--
-- Name: attendance_records Students read their attendance and teachers their classes; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Students read their attendance and teachers their classes" ON app.attendance_records FOR SELECT TO authenticated USING (((student_id = ( SELECT auth.uid() AS uid)) OR (class_id IN ( SELECT app.taught_class_ids() AS taught_class_ids)) OR ( SELECT app.is_admin() AS is_admin)));


--
-- Name: students Students read themselves and teachers read their classes; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Students read themselves and teachers read their classes" ON app.students FOR SELECT TO authenticated USING (((id = ( SELECT auth.uid() AS uid)) OR (class_id IN ( SELECT app.taught_class_ids() AS taught_class_ids)) OR ( SELECT app.is_admin() AS is_admin)));


--
-- Name: attendance_records Teachers correct attendance of classes they teach; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Teachers correct attendance of classes they teach" ON app.attendance_records FOR UPDATE TO authenticated USING ((class_id IN ( SELECT app.taught_class_ids() AS taught_class_ids))) WITH CHECK (((class_id IN ( SELECT app.taught_class_ids() AS taught_class_ids)) AND (marked_by = ( SELECT auth.uid() AS uid))));


--
-- Name: attendance_records Teachers mark attendance for students of classes they teach; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Teachers mark attendance for students of classes they teach" ON app.attendance_records FOR INSERT TO authenticated WITH CHECK (((class_id IN ( SELECT app.taught_class_ids() AS taught_class_ids)) AND (marked_by = ( SELECT auth.uid() AS uid)) AND (EXISTS ( SELECT 1
   FROM app.students s
  WHERE ((s.id = attendance_records.student_id) AND (s.class_id = attendance_records.class_id))))));


--
-- Name: attendance_records; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.attendance_records ENABLE ROW LEVEL SECURITY;

--
-- Name: class_teachers; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.class_teachers ENABLE ROW LEVEL SECURITY;

--
-- Name: classes; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.classes ENABLE ROW LEVEL SECURITY;

--
-- Name: staff; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.staff ENABLE ROW LEVEL SECURITY;

--
-- Name: students; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.students ENABLE ROW LEVEL SECURITY;

--
-- Name: SCHEMA api; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA api TO authenticated;
GRANT USAGE ON SCHEMA api TO service_role;
GRANT USAGE ON SCHEMA api TO anon;


--
-- Name: SCHEMA app; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA app TO authenticated;
GRANT USAGE ON SCHEMA app TO service_role;


--
-- Name: SCHEMA audit; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA audit TO authenticator;
GRANT USAGE ON SCHEMA audit TO service_role;


--
-- Name: SCHEMA auth; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA auth TO anon;
GRANT USAGE ON SCHEMA auth TO authenticated;
GRANT USAGE ON SCHEMA auth TO service_role;


--
-- Name: FUNCTION mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION api.mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb) TO authenticated;


--
-- Name: FUNCTION class_exists(p_class_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.class_exists(p_class_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app.class_exists(p_class_id uuid) TO authenticated;


--
-- Name: FUNCTION is_admin(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.is_admin() FROM PUBLIC;
GRANT ALL ON FUNCTION app.is_admin() TO authenticated;
GRANT ALL ON FUNCTION app.is_admin() TO service_role;


--
-- Name: FUNCTION my_class_id(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.my_class_id() FROM PUBLIC;
GRANT ALL ON FUNCTION app.my_class_id() TO authenticated;
GRANT ALL ON FUNCTION app.my_class_id() TO service_role;


--
-- Name: FUNCTION taught_class_ids(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.taught_class_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION app.taught_class_ids() TO authenticated;
GRANT ALL ON FUNCTION app.taught_class_ids() TO service_role;


--
-- Name: FUNCTION unknown_student_ids(p_ids uuid[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.unknown_student_ids(p_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app.unknown_student_ids(p_ids uuid[]) TO authenticated;


--
-- Name: FUNCTION create_partitions(p_months_ahead integer, p_from date); Type: ACL; Schema: audit; Owner: postgres
--

REVOKE ALL ON FUNCTION audit.create_partitions(p_months_ahead integer, p_from date) FROM PUBLIC;


--
-- Name: FUNCTION log(p_action text, p_resource text, p_resource_id text, p_metadata jsonb, p_success boolean, p_error_message text, p_user_id uuid, p_ip_address inet, p_user_agent text); Type: ACL; Schema: audit; Owner: postgres
--

REVOKE ALL ON FUNCTION audit.log(p_action text, p_resource text, p_resource_id text, p_metadata jsonb, p_success boolean, p_error_message text, p_user_id uuid, p_ip_address inet, p_user_agent text) FROM PUBLIC;
GRANT ALL ON FUNCTION audit.log(p_action text, p_resource text, p_resource_id text, p_metadata jsonb, p_success boolean, p_error_message text, p_user_id uuid, p_ip_address inet, p_user_agent text) TO authenticator;
GRANT ALL ON FUNCTION audit.log(p_action text, p_resource text, p_resource_id text, p_metadata jsonb, p_success boolean, p_error_message text, p_user_id uuid, p_ip_address inet, p_user_agent text) TO service_role;


--
-- Name: FUNCTION redact(p_metadata jsonb); Type: ACL; Schema: audit; Owner: postgres
--

REVOKE ALL ON FUNCTION audit.redact(p_metadata jsonb) FROM PUBLIC;


--
-- Name: TABLE attendance_records; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.attendance_records TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.attendance_records TO service_role;


--
-- Name: COLUMN attendance_records.student_id; Type: ACL; Schema: app; Owner: postgres
--

GRANT INSERT(student_id) ON TABLE app.attendance_records TO authenticated;


--
-- Name: COLUMN attendance_records.class_id; Type: ACL; Schema: app; Owner: postgres
--

GRANT INSERT(class_id) ON TABLE app.attendance_records TO authenticated;


--
-- Name: COLUMN attendance_records.date; Type: ACL; Schema: app; Owner: postgres
--

GRANT INSERT(date) ON TABLE app.attendance_records TO authenticated;


--
-- Name: COLUMN attendance_records.period; Type: ACL; Schema: app; Owner: postgres
--

GRANT INSERT(period) ON TABLE app.attendance_records TO authenticated;


--
-- Name: COLUMN attendance_records.subject; Type: ACL; Schema: app; Owner: postgres
--

GRANT INSERT(subject),UPDATE(subject) ON TABLE app.attendance_records TO authenticated;


--
-- Name: COLUMN attendance_records.status; Type: ACL; Schema: app; Owner: postgres
--

GRANT INSERT(status),UPDATE(status) ON TABLE app.attendance_records TO authenticated;


--
-- Name: COLUMN attendance_records.marked_by; Type: ACL; Schema: app; Owner: postgres
--

GRANT INSERT(marked_by),UPDATE(marked_by) ON TABLE app.attendance_records TO authenticated;


--
-- Name: COLUMN attendance_records.marked_at; Type: ACL; Schema: app; Owner: postgres
--

GRANT INSERT(marked_at),UPDATE(marked_at) ON TABLE app.attendance_records TO authenticated;


--
-- Name: TABLE attendance_records; Type: ACL; Schema: api; Owner: postgres
--

GRANT SELECT ON TABLE api.attendance_records TO authenticated;


--
-- Name: TABLE students; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.students TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.students TO service_role;


--
-- Name: TABLE class_students; Type: ACL; Schema: api; Owner: postgres
--

GRANT SELECT ON TABLE api.class_students TO authenticated;


--
-- Name: TABLE classes; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.classes TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.classes TO service_role;


--
-- Name: TABLE classes; Type: ACL; Schema: api; Owner: postgres
--

GRANT SELECT ON TABLE api.classes TO authenticated;


--
-- Name: TABLE staff; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.staff TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.staff TO service_role;


--
-- Name: TABLE profile; Type: ACL; Schema: api; Owner: postgres
--

GRANT SELECT ON TABLE api.profile TO authenticated;


--
-- Name: TABLE class_teachers; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.class_teachers TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.class_teachers TO service_role;


--
-- Name: TABLE audit_logs; Type: ACL; Schema: audit; Owner: postgres
--

GRANT SELECT ON TABLE audit.audit_logs TO service_role;


--
-- PostgreSQL database dump complete
--
