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

CREATE EXTENSION IF NOT EXISTS pg_cron WITH SCHEMA pg_catalog;


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
-- Name: attendance_change; Type: TYPE; Schema: app; Owner: postgres
--

CREATE TYPE app.attendance_change AS (
	student_id uuid,
	class_id uuid,
	date date,
	period smallint,
	subject text,
	status app.attendance_status,
	previous_status app.attendance_status,
	marked_by uuid,
	marked_at timestamp with time zone,
	change text
);


ALTER TYPE app.attendance_change OWNER TO postgres;

--
-- Name: new_notification; Type: TYPE; Schema: app; Owner: postgres
--

CREATE TYPE app.new_notification AS (
	student_id uuid,
	type text,
	title text,
	message text,
	severity text,
	action_url text,
	metadata jsonb
);


ALTER TYPE app.new_notification OWNER TO postgres;

--
-- Name: staff_role; Type: TYPE; Schema: app; Owner: postgres
--

CREATE TYPE app.staff_role AS ENUM (
    'teacher',
    'admin'
);


ALTER TYPE app.staff_role OWNER TO postgres;

--
-- Name: class_digests(); Type: FUNCTION; Schema: analytics; Owner: postgres
--

CREATE FUNCTION analytics.class_digests() RETURNS TABLE(class_id uuid, digest text)
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
    return query
    select cs.class_id, md5(
        concat_ws('|', cs.total_students, cs.rated_students, cs.average_attendance, cs.median_attendance,
            cs.highest_attendance, cs.lowest_attendance, cs.students_at_risk,
            (
                select string_agg(concat_ws(':', r.student_id, r.rank, r.attendance_rate, r.percentile), ','
                    order by r.student_id)
                from analytics.student_rankings as r
                where r.class_id = cs.class_id
            )
        )
    )
    from analytics.class_statistics as cs;
end;
$$;


ALTER FUNCTION analytics.class_digests() OWNER TO postgres;

--
-- Name: exact_rate(integer, integer); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.exact_rate(p_present integer, p_marked integer) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO ''
    AS $$
begin
    return case when p_marked > 0 then round(p_present::numeric, 40) * 100 / p_marked end;
end;
$$;


ALTER FUNCTION app.exact_rate(p_present integer, p_marked integer) OWNER TO postgres;

--
-- Name: round_rate(numeric); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.round_rate(p_rate numeric) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO ''
    AS $$
begin
    return round(round(p_rate, 30), 2);
end;
$$;


ALTER FUNCTION app.round_rate(p_rate numeric) OWNER TO postgres;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: attendance_thresholds; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.attendance_thresholds (
    level text NOT NULL,
    threshold numeric(5,2) NOT NULL,
    inclusive boolean NOT NULL,
    min_marked_periods integer DEFAULT 10 NOT NULL,
    description text NOT NULL,
    CONSTRAINT attendance_thresholds_level_check CHECK ((level = ANY (ARRAY['tasdiq'::text, 'warning'::text, 'mahroom'::text]))),
    CONSTRAINT attendance_thresholds_min_marked_periods_check CHECK ((min_marked_periods >= 0)),
    CONSTRAINT attendance_thresholds_rate_between_0_and_100 CHECK (((threshold >= (0)::numeric) AND (threshold <= (100)::numeric)))
);


ALTER TABLE app.attendance_thresholds OWNER TO postgres;

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
-- Name: student_attendance_summary; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.student_attendance_summary (
    student_id uuid NOT NULL,
    present integer DEFAULT 0 NOT NULL,
    absent integer DEFAULT 0 NOT NULL,
    sick integer DEFAULT 0 NOT NULL,
    leave integer DEFAULT 0 NOT NULL,
    not_marked integer DEFAULT 0 NOT NULL,
    marked integer DEFAULT 0,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    exact_rate numeric GENERATED ALWAYS AS (app.exact_rate(present, marked)) STORED,
    attendance_rate numeric GENERATED ALWAYS AS (app.round_rate(app.exact_rate(present, marked))) STORED,
    CONSTRAINT student_attendance_summary_absent_check CHECK ((absent >= 0)),
    CONSTRAINT student_attendance_summary_leave_check CHECK ((leave >= 0)),
    CONSTRAINT student_attendance_summary_marked_check CHECK ((marked >= 0)),
    CONSTRAINT student_attendance_summary_not_marked_check CHECK ((not_marked >= 0)),
    CONSTRAINT student_attendance_summary_present_check CHECK ((present >= 0)),
    CONSTRAINT student_attendance_summary_sick_check CHECK ((sick >= 0))
);


ALTER TABLE app.student_attendance_summary OWNER TO postgres;

--
-- Name: COLUMN student_attendance_summary.marked; Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON COLUMN app.student_attendance_summary.marked IS 'Periods that count towards the rate (app.is_marked), kept by the attendance triggers.';


--
-- Name: COLUMN student_attendance_summary.exact_rate; Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON COLUMN app.student_attendance_summary.exact_rate IS '100 x present / marked, exact (app.exact_rate); null without marked periods.';


--
-- Name: COLUMN student_attendance_summary.attendance_rate; Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON COLUMN app.student_attendance_summary.attendance_rate IS 'The rate as shown: exact_rate rounded to 2 decimals (app.round_rate).';


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
-- Name: class_statistics_live; Type: VIEW; Schema: analytics; Owner: postgres
--

CREATE VIEW analytics.class_statistics_live AS
 WITH mahroom AS (
         SELECT t_1.threshold,
            t_1.inclusive
           FROM app.attendance_thresholds t_1
          WHERE (t_1.level = 'mahroom'::text)
        ), members AS (
         SELECT s.id AS student_id,
            s.class_id,
            sm.present,
            sm.marked,
            sm.exact_rate
           FROM (app.students s
             LEFT JOIN app.student_attendance_summary sm ON ((s.id = sm.student_id)))
        )
 SELECT c.id AS class_id,
    c.name AS class_name,
    count(m.student_id) AS total_students,
    count(m.exact_rate) AS rated_students,
    app.round_rate(avg(m.exact_rate)) AS average_attendance,
    app.round_rate(((percentile_disc((0.5)::double precision) WITHIN GROUP (ORDER BY m.exact_rate) + percentile_disc((0.5)::double precision) WITHIN GROUP (ORDER BY m.exact_rate DESC)) / (2)::numeric)) AS median_attendance,
    app.round_rate(max(m.exact_rate)) AS highest_attendance,
    app.round_rate(min(m.exact_rate)) AS lowest_attendance,
    count(*) FILTER (WHERE ((m.marked > 0) AND ((((100 * m.present))::numeric < (t.threshold * (m.marked)::numeric)) OR (t.inclusive AND (((100 * m.present))::numeric = (t.threshold * (m.marked)::numeric)))))) AS students_at_risk,
    now() AS last_calculated
   FROM ((app.classes c
     LEFT JOIN members m ON ((c.id = m.class_id)))
     LEFT JOIN mahroom t ON (true))
  GROUP BY c.id, c.name;


ALTER TABLE analytics.class_statistics_live OWNER TO postgres;

--
-- Name: class_figures(uuid); Type: FUNCTION; Schema: analytics; Owner: postgres
--

CREATE FUNCTION analytics.class_figures(p_class_id uuid) RETURNS SETOF analytics.class_statistics_live
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
    if analytics.is_populated('analytics.class_statistics') then
        return query select * from analytics.class_statistics as cs where cs.class_id = p_class_id;
        if found then
            return;
        end if;
    end if;
    return query select * from analytics.class_statistics_live as cs where cs.class_id = p_class_id;
end;
$$;


ALTER FUNCTION analytics.class_figures(p_class_id uuid) OWNER TO postgres;

--
-- Name: student_rankings_live; Type: VIEW; Schema: analytics; Owner: postgres
--

CREATE VIEW analytics.student_rankings_live AS
 WITH rated AS (
         SELECT s.id AS student_id,
            s.class_id,
            sm.attendance_rate,
            ((sm.present)::double precision / (sm.marked)::double precision) AS sort_key
           FROM (app.students s
             JOIN app.student_attendance_summary sm ON ((s.id = sm.student_id)))
          WHERE (sm.marked > 0)
        ), ranked AS (
         SELECT rated.student_id,
            rated.class_id,
            rated.attendance_rate,
            rank() OVER by_rate AS rank,
            count(*) OVER (by_rate RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS peers,
            count(*) OVER (PARTITION BY rated.class_id) AS total_students
           FROM rated
          WINDOW by_rate AS (PARTITION BY rated.class_id ORDER BY rated.sort_key DESC)
        )
 SELECT ranked.student_id,
    ranked.class_id,
    ranked.rank,
    ranked.total_students,
    ranked.attendance_rate,
        CASE
            WHEN (ranked.total_students > 1) THEN round(((100.0 * ((((ranked.total_students - ranked.rank) + 1) - ranked.peers))::numeric) / ((ranked.total_students - 1))::numeric), 1)
            ELSE 0.0
        END AS percentile
   FROM ranked;


ALTER TABLE analytics.student_rankings_live OWNER TO postgres;

--
-- Name: class_rankings(uuid); Type: FUNCTION; Schema: analytics; Owner: postgres
--

CREATE FUNCTION analytics.class_rankings(p_class_id uuid) RETURNS SETOF analytics.student_rankings_live
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
    if analytics.is_populated('analytics.student_rankings') then
        return query
        select r.student_id, r.class_id, r.rank, r.total_students, r.attendance_rate, r.percentile
        from analytics.student_rankings as r where r.class_id = p_class_id;
        if found then
            return;
        end if;
    end if;
    return query
    select r.student_id, r.class_id, r.rank, r.total_students, r.attendance_rate, r.percentile
    from analytics.student_rankings_live as r where r.class_id = p_class_id;
end;
$$;


ALTER FUNCTION analytics.class_rankings(p_class_id uuid) OWNER TO postgres;

--
-- Name: freshness(); Type: FUNCTION; Schema: analytics; Owner: postgres
--

CREATE FUNCTION analytics.freshness() RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
    v_populated boolean := analytics.is_populated('analytics.class_statistics')
        and analytics.is_populated('analytics.student_rankings');
    v_refreshed_at timestamptz;
begin
    select min(rs.last_finished_at) into v_refreshed_at from analytics.refresh_state as rs;
    return pg_catalog.jsonb_build_object(
        'source', case when v_populated then 'view' else 'live' end,
        'refreshedAt', case when v_populated then v_refreshed_at end,
        'ageSeconds', case when v_populated then round(extract(epoch from now() - v_refreshed_at)) end,
        'pendingChanges', exists (select 1 from analytics.pending_changes),
        -- A populated view with no recorded refresh is of unknown age: stale.
        'stale', v_populated and coalesce(v_refreshed_at < now() - analytics.freshness_bound(), true)
    );
end;
$$;


ALTER FUNCTION analytics.freshness() OWNER TO postgres;

--
-- Name: freshness_bound(); Type: FUNCTION; Schema: analytics; Owner: postgres
--

CREATE FUNCTION analytics.freshness_bound() RETURNS interval
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
begin
    return interval '10 minutes';
end;
$$;


ALTER FUNCTION analytics.freshness_bound() OWNER TO postgres;

--
-- Name: is_populated(regclass); Type: FUNCTION; Schema: analytics; Owner: postgres
--

CREATE FUNCTION analytics.is_populated(p_view regclass) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
    return (select c.relispopulated from pg_catalog.pg_class as c where c.oid = p_view);
end;
$$;


ALTER FUNCTION analytics.is_populated(p_view regclass) OWNER TO postgres;

--
-- Name: mark_dirty(); Type: FUNCTION; Schema: analytics; Owner: postgres
--

CREATE FUNCTION analytics.mark_dirty() RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    insert into analytics.pending_changes (xid) values (pg_catalog.pg_current_xact_id())
    on conflict (xid) do nothing;
$$;


ALTER FUNCTION analytics.mark_dirty() OWNER TO postgres;

--
-- Name: refresh(boolean); Type: FUNCTION; Schema: analytics; Owner: postgres
--

CREATE FUNCTION analytics.refresh(p_only_if_dirty boolean DEFAULT false) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    c_lock constant bigint := 7245120392;
    v_seen pg_catalog.pg_snapshot;
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_before jsonb := '{}'::jsonb;
    v_was_populated boolean;
begin
    if not pg_catalog.pg_try_advisory_xact_lock(c_lock) then
        raise notice 'analytics refresh skipped: another refresh is running';
        return false;
    end if;
    v_was_populated := analytics.is_populated('analytics.class_statistics')
        and analytics.is_populated('analytics.student_rankings');
    if p_only_if_dirty and v_was_populated and not exists (select 1 from analytics.pending_changes) then
        return false;
    end if;
    if v_was_populated then
        select coalesce(jsonb_object_agg(d.class_id, d.digest), '{}'::jsonb) into v_before
        from analytics.class_digests() as d;
    end if;
    v_seen := pg_catalog.pg_current_snapshot();
    if analytics.is_populated('analytics.class_statistics') then
        refresh materialized view concurrently analytics.class_statistics;
    else
        refresh materialized view analytics.class_statistics;
    end if;
    if analytics.is_populated('analytics.student_rankings') then
        refresh materialized view concurrently analytics.student_rankings;
    else
        refresh materialized view analytics.student_rankings;
    end if;
    -- A snapshot does not list its own transaction as visible, yet the refresh saw its changes.
    delete from analytics.pending_changes as p
    where pg_catalog.pg_visible_in_snapshot(p.xid, v_seen)
        or p.xid = pg_catalog.pg_current_xact_id_if_assigned();
    update analytics.refresh_state
    set last_started_at = v_started,
        last_finished_at = pg_catalog.clock_timestamp(),
        last_duration_ms = extract(epoch from pg_catalog.clock_timestamp() - v_started) * 1000;
    -- Classes whose figures moved: their connected students get their dashboards again.
    perform app.write_events(
        (
            select jsonb_agg(
                jsonb_build_object('topic', 'class_figures', 'classId', d.class_id, 'payload', '{}'::jsonb)
                order by d.class_id
            )
            from analytics.class_digests() as d
            where d.digest is distinct from v_before ->> d.class_id::text
        )
    );
    return true;
end;
$$;


ALTER FUNCTION analytics.refresh(p_only_if_dirty boolean) OWNER TO postgres;

--
-- Name: FUNCTION refresh(p_only_if_dirty boolean); Type: COMMENT; Schema: analytics; Owner: postgres
--

COMMENT ON FUNCTION analytics.refresh(p_only_if_dirty boolean) IS 'Refresh the analytics views (only if something changed, with true); false when skipped.';


--
-- Name: refresh_if_dirty(); Type: FUNCTION; Schema: analytics; Owner: postgres
--

CREATE FUNCTION analytics.refresh_if_dirty() RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select analytics.refresh(true)
$$;


ALTER FUNCTION analytics.refresh_if_dirty() OWNER TO postgres;

--
-- Name: audit_archives(); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.audit_archives() RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    perform app.authorize_admin();
    return coalesce(
        (
            select jsonb_agg(
                jsonb_build_object(
                    'month', to_char(a.month, 'YYYY-MM'),
                    'state', a.state,
                    'location', a.location,
                    'rows', a.rows,
                    'firstAt', a.first_at,
                    'lastAt', a.last_at,
                    'sha256', a.sha256,
                    'bytes', a.bytes,
                    'detachedAt', a.detached_at,
                    'droppedAt', a.dropped_at
                )
                order by a.month desc
            )
            from audit.archives as a
        ),
        '[]'::jsonb
    );
end;
$$;


ALTER FUNCTION api.audit_archives() OWNER TO postgres;

--
-- Name: FUNCTION audit_archives(); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.audit_archives() IS 'Admins: the archived months of the audit log and where their files are. Security definer: audit.archives is closed to every client role; the function checks the caller.';


--
-- Name: audit_logs(uuid, text, timestamp with time zone, timestamp with time zone, boolean, integer, integer); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.audit_logs(user_id uuid DEFAULT NULL::uuid, action text DEFAULT NULL::text, from_time timestamp with time zone DEFAULT NULL::timestamp with time zone, to_time timestamp with time zone DEFAULT NULL::timestamp with time zone, success boolean DEFAULT NULL::boolean, page_limit integer DEFAULT 50, page_offset integer DEFAULT 0) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_result jsonb;
begin
    perform app.authorize_admin();
    if page_limit is null or page_limit not between 1 and 500 then
        raise exception using errcode = '22023', message = 'limit must be between 1 and 500';
    end if;
    if page_offset is null or page_offset < 0 then
        raise exception using errcode = '22023', message = 'offset must not be negative';
    end if;
    with matching as (
        select l.*
        from audit.audit_logs as l
        where (audit_logs.user_id is null or l.user_id = audit_logs.user_id)
            and (audit_logs.action is null or l.action = audit_logs.action)
            and (from_time is null or l.timestamp >= from_time)
            and (to_time is null or l.timestamp <= to_time)
            and (audit_logs.success is null or l.success = audit_logs.success)
    ),
    page as (
        select m.* from matching as m
        order by m.timestamp desc, m.id
        limit page_limit offset page_offset
    )
    select jsonb_build_object(
        'entries', coalesce(
            (
                select jsonb_agg(
                    jsonb_build_object(
                        'id', p.id,
                        'userId', p.user_id,
                        'action', p.action,
                        'resource', p.resource,
                        'resourceId', p.resource_id,
                        'metadata', p.metadata,
                        'ipAddress', host(p.ip_address),
                        'userAgent', p.user_agent,
                        'timestamp', p.timestamp,
                        'success', p.success,
                        'errorMessage', p.error_message
                    )
                    order by p.timestamp desc, p.id
                )
                from page as p
            ),
            '[]'::jsonb
        ),
        'total', (select count(*) from matching),
        'limit', page_limit,
        'offset', page_offset,
        'archived', api.audit_archives()
    ) into v_result;
    return v_result;
end;
$$;


ALTER FUNCTION api.audit_logs(user_id uuid, action text, from_time timestamp with time zone, to_time timestamp with time zone, success boolean, page_limit integer, page_offset integer) OWNER TO postgres;

--
-- Name: FUNCTION audit_logs(user_id uuid, action text, from_time timestamp with time zone, to_time timestamp with time zone, success boolean, page_limit integer, page_offset integer); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.audit_logs(user_id uuid, action text, from_time timestamp with time zone, to_time timestamp with time zone, success boolean, page_limit integer, page_offset integer) IS 'Admins: audit entries newest first, filtered by user, action, time range and success, paginated. Runs as its owner: no client role may read the append-only audit log itself, so the function checks that the caller is an admin first.';


--
-- Name: certificate(uuid); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.certificate(file_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION api.certificate(file_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION certificate(file_id uuid); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.certificate(file_id uuid) IS 'One certificate the caller may see (RLS).';


--
-- Name: certificates(uuid, integer, integer); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.certificates(student_id uuid DEFAULT NULL::uuid, lim integer DEFAULT 50, skip integer DEFAULT 0) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION api.certificates(student_id uuid, lim integer, skip integer) OWNER TO postgres;

--
-- Name: FUNCTION certificates(student_id uuid, lim integer, skip integer); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.certificates(student_id uuid, lim integer, skip integer) IS 'Certificates the caller may see (RLS), newest first; urlVersion is null when a file may not be downloaded.';


--
-- Name: class_rankings(uuid); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.class_rankings(class_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    perform app.authorize_class(class_rankings.class_id);
    if not app.is_staff() then
        raise exception using errcode = '42501', message = 'only staff may see a class''s rankings';
    end if;
    return jsonb_build_object(
        'classId', class_rankings.class_id,
        'rankings', coalesce(
            (
                select jsonb_agg(
                    jsonb_build_object(
                        'studentId', r.student_id,
                        'name', s.name,
                        'rank', r.rank,
                        'totalStudents', r.total_students,
                        'percentile', r.percentile,
                        'attendanceRate', r.attendance_rate
                    )
                    order by r.rank, s.name
                )
                from analytics.class_rankings(class_rankings.class_id) as r
                inner join app.students as s on r.student_id = s.id
            ),
            '[]'::jsonb
        ),
        'freshness', analytics.freshness()
    );
end;
$$;


ALTER FUNCTION api.class_rankings(class_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION class_rankings(class_id uuid); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.class_rankings(class_id uuid) IS 'Ranked students of a class (studentId, name, rank, totalStudents, percentile, attendanceRate): staff only. Runs as its owner: rankings come from a materialized view, which cannot carry row-level security, so the function checks the caller first.';


--
-- Name: class_statistics(); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.class_statistics() RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    return api.class_statistics(app.authorize_student(app.caller_student_id()));
end;
$$;


ALTER FUNCTION api.class_statistics() OWNER TO postgres;

--
-- Name: FUNCTION class_statistics(); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.class_statistics() IS 'ClassStatistics of the calling student''s class. Runs as its owner for the same reason as class_statistics(uuid).';


--
-- Name: class_statistics(uuid); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.class_statistics(class_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_row record;
begin
    perform app.authorize_class(class_statistics.class_id);
    select * into v_row from analytics.class_figures(class_statistics.class_id);
    return jsonb_build_object(
        'classId', v_row.class_id,
        'className', v_row.class_name,
        'totalStudents', v_row.total_students,
        'averageAttendance', v_row.average_attendance,
        'medianAttendance', v_row.median_attendance,
        'highestAttendance', v_row.highest_attendance,
        'lowestAttendance', v_row.lowest_attendance,
        'studentsAtRisk', v_row.students_at_risk,
        'lastCalculated', v_row.last_calculated,
        'freshness', analytics.freshness()
    );
end;
$$;


ALTER FUNCTION api.class_statistics(class_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION class_statistics(class_id uuid); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.class_statistics(class_id uuid) IS 'ClassStatistics: students see their own class, teachers the classes they teach, admins every class. Runs as its owner: the figures aggregate classmates a student may not read, from a materialized view, which cannot carry row-level security, so the function checks the caller first.';


--
-- Name: delete_certificate(uuid); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.delete_certificate(file_id uuid) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION api.delete_certificate(file_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION delete_certificate(file_id uuid); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.delete_certificate(file_id uuid) IS 'Delete a certificate (its student or an admin); the stored object is removed by the worker.';


--
-- Name: event_stream(); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.event_stream() RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_me uuid := app.caller_student_id();
begin
    return jsonb_build_object(
        'studentId', v_me,
        'classId', (select s.class_id from app.students as s where s.id = v_me),
        'head', app.event_head()
    );
end;
$$;


ALTER FUNCTION api.event_stream() OWNER TO postgres;

--
-- Name: FUNCTION event_stream(); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.event_stream() IS 'Where the calling student''s event stream starts: studentId, classId and head, the position of now. Security definer: reads the outbox''s bounds, which students cannot read.';


--
-- Name: events(text, integer, text); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.events(after text DEFAULT NULL::text, lim integer DEFAULT 100, until text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_me uuid := app.caller_student_id();
    v_class uuid;
    v_after record;
    v_until record;
    v_bound record;
    v_head text;
    v_reason text;
    v_events jsonb;
    v_count integer;
    v_last text;
    v_related boolean;
begin
    if lim is null or lim < 1 or lim > 1000 then
        raise exception using errcode = '22023', message = 'lim must be between 1 and 1000';
    end if;
    select s.class_id into v_class from app.students as s where s.id = v_me;
    v_head := app.event_head();
    if after is null then
        return jsonb_build_object('events', '[]'::jsonb, 'nextAfter', v_head, 'reset', false);
    end if;
    v_after := app.parse_event_position(after);
    v_bound := app.event_bound();
    if v_after.horizon is null then
        v_reason := 'malformed';
    elsif v_after.horizon > v_bound.xmax then
        v_reason := 'future';
    elsif app.event_position_expired(v_after.horizon, v_after.id) then
        v_reason := 'expired';
    end if;
    if v_reason is not null then
        return jsonb_build_object(
            'events', jsonb_build_array(
                jsonb_build_object('id', v_head, 'event', 'reset', 'data', jsonb_build_object('reason', v_reason))
            ),
            'nextAfter', v_head,
            'reset', true
        );
    end if;
    v_until := app.parse_event_position(coalesce(until, pg_catalog.repeat('7', 32)));
    if v_until.horizon is null then
        raise exception using errcode = '22023', message = format('until %s is not an event position', until);
    end if;

    with page as (
        select e.horizon, e.id, e.topic, e.student_id, e.payload
        from app.events as e
        where (e.student_id = v_me or e.class_id = v_class)
            and (e.horizon, e.id) > (v_after.horizon, v_after.id)
            and (e.horizon, e.id) <= (v_until.horizon, v_until.id)
            and (e.horizon < v_bound.oldest_writer or v_bound.oldest_writer is null)
            and (e.horizon, e.id) <= (v_bound.xmax, v_bound.last_id)
        order by e.horizon, e.id
        limit lim
    )
    select
        coalesce(
            jsonb_agg(
                jsonb_build_object(
                    'id', app.event_position(p.horizon, p.id),
                    'event', p.topic,
                    'data', p.payload
                )
                order by p.horizon, p.id
            ) filter (where p.student_id = v_me and p.topic in ('attendance_update', 'reset', 'notification')),
            '[]'::jsonb
        ),
        count(*),
        (array_agg(app.event_position(p.horizon, p.id) order by p.horizon desc, p.id desc))[1],
        bool_or(p.topic in ('attendance_update', 'class_figures'))
    into v_events, v_count, v_last, v_related
    from page as p;

    if v_related then
        v_events := v_events || jsonb_build_array(
            jsonb_build_object(
                'id', v_last,
                'event', 'metrics_update',
                'data', app.dashboard_of(v_me, v_class)
            )
        );
    end if;
    return jsonb_build_object(
        'events', v_events,
        -- A short page read everything final up to now: later calls may start from there.
        'nextAfter', case
            when v_count = lim then v_last
            when until is not null then coalesce(v_last, after)
            else greatest(coalesce(v_last, after) collate "C", after, v_head)
        end,
        'reset', false
    );
end;
$$;


ALTER FUNCTION api.events(after text, lim integer, until text) OWNER TO postgres;

--
-- Name: FUNCTION events(after text, lim integer, until text); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.events(after text, lim integer, until text) IS 'The calling student''s events after a position (polling and stream replay): events, nextAfter, reset. Security definer: reads the outbox, which students cannot read, and returns only their own rows.';


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
$_$;


ALTER FUNCTION api.mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb) OWNER TO postgres;

--
-- Name: FUNCTION mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb) IS 'Teachers: mark a class for one date and period. marks = [{"studentId": uuid, "status": "present"|"absent"|"sick"|"leave"|"not_marked"}]. Re-marking updates. Returns the rows written.';


--
-- Name: mark_notifications_read(uuid[], boolean); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.mark_notifications_read(ids uuid[] DEFAULT NULL::uuid[], every boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_me uuid := app.caller_student_id();
    v_updated integer;
begin
    if not coalesce(every, false) and ids is null then
        raise exception using errcode = '22023', message = 'name the ids to mark read, or every';
    end if;
    if cardinality(ids) > 1000 then
        raise exception using errcode = '22023', message = 'at most 1000 ids at a time';
    end if;
    update app.notifications as n
    set read = true, read_at = now()
    where n.student_id = v_me
        and n.in_app
        and not n.read
        and (coalesce(every, false) or n.id = any(ids));
    get diagnostics v_updated = row_count;
    if v_updated > 0 then
        perform app.write_events(
            jsonb_build_array(
                jsonb_build_object('topic', 'inbox_changed', 'studentId', v_me, 'payload', '{"what": "read"}'::jsonb)
            )
        );
    end if;
    return jsonb_build_object(
        'updated', v_updated,
        'unreadCount', (
            select count(*) from app.notifications as n where n.student_id = v_me and n.in_app and not n.read
        )
    );
end;
$$;


ALTER FUNCTION api.mark_notifications_read(ids uuid[], every boolean) OWNER TO postgres;

--
-- Name: FUNCTION mark_notifications_read(ids uuid[], every boolean); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.mark_notifications_read(ids uuid[], every boolean) IS 'Mark the calling student''s notifications read (ids, or every): updated, unreadCount. Security definer: writes only the caller''s rows and the outbox event.';


--
-- Name: notification_preferences(); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.notification_preferences() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select app.preferences_json(p)
    from app.notification_preferences as p
    where p.student_id = app.caller_student_id()
$$;


ALTER FUNCTION api.notification_preferences() OWNER TO postgres;

--
-- Name: FUNCTION notification_preferences(); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.notification_preferences() IS 'The calling student''s notification preferences.';


--
-- Name: notifications(boolean, integer, text); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.notifications(unread boolean DEFAULT false, lim integer DEFAULT 20, cursor text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
    v_me uuid := app.caller_student_id();
    v_after_at timestamptz;
    v_after_id uuid;
    v_page jsonb;
    v_count integer;
    v_last text;
begin
    if lim is null or lim < 1 or lim > 100 then
        raise exception using errcode = '22023', message = 'lim must be between 1 and 100';
    end if;
    if cursor is not null then
        if cursor !~ '^\d{1,18}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
            raise exception using errcode = '22023', message = 'cursor is not a notifications cursor';
        end if;
        v_after_at := timestamptz 'epoch' + (split_part(cursor, '.', 1) || ' microseconds')::interval;
        v_after_id := split_part(cursor, '.', 2)::uuid;
    end if;

    with page as (
        select n.*
        from app.notifications as n
        where n.student_id = v_me
            and n.in_app
            and (not coalesce(unread, false) or not n.read)
            and (v_after_at is null or (n.created_at, n.id) < (v_after_at, v_after_id))
        order by n.created_at desc, n.id desc
        limit lim
    )
    select
        coalesce(
            jsonb_agg(
                jsonb_build_object(
                    'id', p.id,
                    'studentId', p.student_id,
                    'type', p.type,
                    'title', p.title,
                    'message', p.message,
                    'severity', p.severity,
                    'createdAt', p.created_at,
                    'read', p.read,
                    'readAt', p.read_at,
                    'actionUrl', p.action_url,
                    'metadata', p.metadata
                )
                order by p.created_at desc, p.id desc
            ),
            '[]'::jsonb
        ),
        count(*),
        (array_agg(app.notification_cursor(p.created_at, p.id) order by p.created_at, p.id))[1]
    into v_page, v_count, v_last
    from page as p;

    return jsonb_build_object(
        'notifications', v_page,
        -- A full page may have more behind it; the cursor is its oldest row.
        'nextCursor', case when v_count = lim then v_last end,
        'unreadCount', (
            select count(*) from app.notifications as n where n.student_id = v_me and n.in_app and not n.read
        )
    );
end;
$_$;


ALTER FUNCTION api.notifications(unread boolean, lim integer, cursor text) OWNER TO postgres;

--
-- Name: FUNCTION notifications(unread boolean, lim integer, cursor text); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.notifications(unread boolean, lim integer, cursor text) IS 'The calling student''s in-app notifications, newest first: notifications, nextCursor, unreadCount.';


--
-- Name: review_certificate(uuid, text, text); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.review_certificate(file_id uuid, decision text, reason text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION api.review_certificate(file_id uuid, decision text, reason text) OWNER TO postgres;

--
-- Name: FUNCTION review_certificate(file_id uuid, decision text, reason text); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.review_certificate(file_id uuid, decision text, reason text) IS 'Approve or reject a clean certificate (a teacher of the student''s class or an admin); notifies and audits.';


--
-- Name: student_dashboard(); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.student_dashboard() RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    return api.student_dashboard(app.caller_student_id());
end;
$$;


ALTER FUNCTION api.student_dashboard() OWNER TO postgres;

--
-- Name: FUNCTION student_dashboard(); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.student_dashboard() IS 'StudentDashboardMetrics of the calling student: totalClasses, attendanceRate, presentDays, absentDays, sickDays, leaveDays, notMarked, classAverage, ranking, trend, lastUpdated and freshness. Runs as its owner for the same reason as student_dashboard(uuid).';


--
-- Name: student_dashboard(uuid); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.student_dashboard(student_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    return app.dashboard_of(student_dashboard.student_id, app.authorize_student(student_dashboard.student_id));
end;
$$;


ALTER FUNCTION api.student_dashboard(student_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION student_dashboard(student_id uuid); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.student_dashboard(student_id uuid) IS 'StudentDashboardMetrics of one student: for that student, teachers of their class and admins. Runs as its owner: the class average and rank come from materialized views, which cannot carry row-level security, so the function checks the caller first.';


--
-- Name: student_ranking(); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.student_ranking() RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    return api.student_ranking(app.caller_student_id());
end;
$$;


ALTER FUNCTION api.student_ranking() OWNER TO postgres;

--
-- Name: FUNCTION student_ranking(); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.student_ranking() IS 'StudentRanking of the calling student within their class: rank, totalStudents, percentile, attendanceRate. Runs as its owner for the same reason as student_ranking(uuid).';


--
-- Name: student_ranking(uuid); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.student_ranking(student_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_class uuid := app.authorize_student(student_ranking.student_id);
    v_row record;
    v_total bigint;
begin
    select r.rank, r.total_students, r.percentile, r.attendance_rate into v_row
    from analytics.class_rankings(v_class) as r
    where r.student_id = student_ranking.student_id;
    select count(*) into v_total from analytics.class_rankings(v_class);
    return jsonb_build_object(
        'studentId', student_ranking.student_id,
        'classId', v_class,
        'rank', v_row.rank,
        'totalStudents', coalesce(v_row.total_students, v_total),
        'percentile', v_row.percentile,
        'attendanceRate', v_row.attendance_rate,
        'freshness', analytics.freshness()
    );
end;
$$;


ALTER FUNCTION api.student_ranking(student_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION student_ranking(student_id uuid); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.student_ranking(student_id uuid) IS 'StudentRanking (rank, totalStudents, percentile, attendanceRate) of one student the caller may see. Runs as its owner: rankings come from a materialized view, which cannot carry row-level security, so the function checks the caller first.';


--
-- Name: update_notification_preferences(jsonb); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.update_notification_preferences(prefs jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_me uuid := app.caller_student_id();
    v_field text;
    v_row app.notification_preferences;
begin
    if prefs is null or jsonb_typeof(prefs) <> 'object' then
        raise exception using errcode = '22023', message = 'preferences must be a JSON object';
    end if;
    for v_field in select k from jsonb_object_keys(prefs) as k order by k loop
        if v_field not in ('emailEnabled', 'inAppEnabled', 'attendanceAlerts', 'fileUpdates', 'systemAnnouncements') then
            raise exception using errcode = '22023', message = format('%s is not a preference', v_field);
        end if;
        if jsonb_typeof(prefs -> v_field) <> 'boolean' then
            raise exception using errcode = '22023', message = format('%s must be true or false', v_field);
        end if;
    end loop;
    update app.notification_preferences as p
    set email_enabled = coalesce((prefs ->> 'emailEnabled')::boolean, p.email_enabled),
        in_app_enabled = coalesce((prefs ->> 'inAppEnabled')::boolean, p.in_app_enabled),
        attendance_alerts = coalesce((prefs ->> 'attendanceAlerts')::boolean, p.attendance_alerts),
        file_updates = coalesce((prefs ->> 'fileUpdates')::boolean, p.file_updates),
        system_announcements = coalesce((prefs ->> 'systemAnnouncements')::boolean, p.system_announcements),
        updated_at = now()
    where p.student_id = v_me
    returning * into v_row;
    perform app.write_events(
        jsonb_build_array(
            jsonb_build_object('topic', 'inbox_changed', 'studentId', v_me, 'payload', '{"what": "preferences"}'::jsonb)
        )
    );
    return app.preferences_json(v_row);
end;
$$;


ALTER FUNCTION api.update_notification_preferences(prefs jsonb) OWNER TO postgres;

--
-- Name: FUNCTION update_notification_preferences(prefs jsonb); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.update_notification_preferences(prefs jsonb) IS 'Change the calling student''s notification preferences (partial; booleans only). Security definer: writes only the caller''s row and the outbox event.';


--
-- Name: weekly_attendance(text); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.weekly_attendance(week text) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    return api.weekly_attendance(week, app.caller_student_id());
end;
$$;


ALTER FUNCTION api.weekly_attendance(week text) OWNER TO postgres;

--
-- Name: FUNCTION weekly_attendance(week text); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.weekly_attendance(week text) IS 'The calling student''s records for one ISO week (YYYY-Www) by day and period, with its summary. Runs as its owner for the same reason as weekly_attendance(text, uuid).';


--
-- Name: weekly_attendance(text, uuid); Type: FUNCTION; Schema: api; Owner: postgres
--

CREATE FUNCTION api.weekly_attendance(week text, student_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_monday date := app.iso_week_start(week);
    v_result jsonb;
begin
    perform app.authorize_student(weekly_attendance.student_id);
    with records as (
        select r.date, r.period, r.subject, r.status, r.marked_at, app.is_marked(r.status) as counted
        from app.attendance_records as r
        where r.student_id = weekly_attendance.student_id
            and r.date between v_monday and v_monday + 6
    ),
    days as (
        select d::date as date
        from generate_series(v_monday, v_monday + 6, interval '1 day') as d
        where extract(isodow from d) <= 5 or exists (select 1 from records as r where r.date = d::date)
    )
    select jsonb_build_object(
        'studentId', weekly_attendance.student_id,
        'week', week,
        'startDate', v_monday,
        'endDate', v_monday + 6,
        'days', (
            select jsonb_agg(
                jsonb_build_object(
                    'date', days.date,
                    'dayOfWeek', extract(isodow from days.date)::integer,
                    'periods', coalesce(
                        (
                            select jsonb_agg(
                                jsonb_build_object(
                                    'period', r.period, 'subject', r.subject,
                                    'status', r.status, 'markedAt', r.marked_at
                                )
                                order by r.period
                            )
                            from records as r where r.date = days.date
                        ),
                        '[]'::jsonb
                    )
                )
                order by days.date
            )
            from days
        ),
        'summary', (
            select jsonb_build_object(
                'totalClasses', count(*) filter (where r.counted),
                'presentDays', count(*) filter (where r.status = 'present'),
                'absentDays', count(*) filter (where r.status = 'absent'),
                'sickDays', count(*) filter (where r.status = 'sick'),
                'leaveDays', count(*) filter (where r.status = 'leave'),
                'notMarked', count(*) filter (where r.status = 'not_marked'),
                'attendanceRate', app.round_rate(app.exact_rate(
                    (count(*) filter (where r.status = 'present'))::integer,
                    (count(*) filter (where r.counted))::integer
                ))
            )
            from records as r
        )
    ) into v_result;
    return v_result;
end;
$$;


ALTER FUNCTION api.weekly_attendance(week text, student_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION weekly_attendance(week text, student_id uuid); Type: COMMENT; Schema: api; Owner: postgres
--

COMMENT ON FUNCTION api.weekly_attendance(week text, student_id uuid) IS 'One ISO week (YYYY-Www) of a student''s records by day and period, with the week''s summary. Runs as its owner so that one rule decides who sees a student (as for the dashboard): a teacher of the student''s class sees the whole week, periods held in a former class included, which row-level security on the records (by the class that held each period) would hide.';


--
-- Name: alert_standing(uuid[]); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.alert_standing(p_students uuid[]) RETURNS TABLE(student_id uuid, present integer, marked integer, rate numeric, level text, in_streak boolean)
    LANGUAGE plpgsql STABLE ROWS 100
    SET search_path TO ''
    SET jit TO 'off'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
begin
    -- The level test is app.in_level() written out against the three thresholds read once: a
    -- function call per student and level costs twenty times the whole pass
    -- (tests/db/test_alerts.py holds them equal).
    return query
    with wanted as (
        select distinct w.id from unnest(p_students) as w (id)
    ),
    th as (
        select
            max(t.threshold) filter (where t.level = 'mahroom') as m,
            bool_or(t.inclusive) filter (where t.level = 'mahroom') as m_inclusive,
            max(t.min_marked_periods) filter (where t.level = 'mahroom') as m_min,
            max(t.threshold) filter (where t.level = 'warning') as w,
            bool_or(t.inclusive) filter (where t.level = 'warning') as w_inclusive,
            max(t.min_marked_periods) filter (where t.level = 'warning') as w_min,
            max(t.threshold) filter (where t.level = 'tasdiq') as t,
            bool_or(t.inclusive) filter (where t.level = 'tasdiq') as t_inclusive,
            max(t.min_marked_periods) filter (where t.level = 'tasdiq') as t_min
        from app.attendance_thresholds as t
    ),
    -- A streak of N days needs N days without a present period: only students with that many
    -- are looked at day by day (the partial index holds those days alone).
    streak_candidates as (
        select dd.student_id
        from app.student_attendance_daily as dd
        cross join app.alert_settings as cfg
        where dd.marked > 0 and dd.present = 0 and dd.student_id in (select w.id from wanted as w)
        group by dd.student_id, cfg.consecutive_absence_days
        having count(*) >= cfg.consecutive_absence_days
    ),
    streaks as (
        select
            c.student_id,
            coalesce(
                (
                    select count(*) = cfg.consecutive_absence_days
                        and bool_and(
                            -- a day without a present period, and without sick or leave either
                            case when d.present > 0 then false else not exists (
                                select 1 from app.attendance_records as r
                                where r.student_id = c.student_id and r.date = d.date and r.status in ('sick', 'leave')
                            ) end
                        )
                    from (
                        select dd.date, dd.present
                        from app.student_attendance_daily as dd
                        where dd.student_id = c.student_id and dd.marked > 0
                        order by dd.date desc
                        limit cfg.consecutive_absence_days
                    ) as d
                ),
                false
            ) as in_streak
        from streak_candidates as c
        cross join app.alert_settings as cfg
    )
    select
        sm.student_id,
        sm.present,
        sm.marked,
        sm.attendance_rate,
        case
            when sm.marked > 0 and sm.marked >= th.m_min
                and (100 * sm.present < th.m * sm.marked or (th.m_inclusive and 100 * sm.present = th.m * sm.marked))
                then 'mahroom'
            when sm.marked > 0 and sm.marked >= th.w_min
                and (100 * sm.present < th.w * sm.marked or (th.w_inclusive and 100 * sm.present = th.w * sm.marked))
                then 'warning'
            when sm.marked > 0 and sm.marked >= th.t_min
                and (100 * sm.present < th.t * sm.marked or (th.t_inclusive and 100 * sm.present = th.t * sm.marked))
                then 'tasdiq'
        end,
        coalesce(st.in_streak, false)
    from wanted as w
    inner join app.student_attendance_summary as sm on w.id = sm.student_id
    cross join th
    left join streaks as st on sm.student_id = st.student_id;
end;
$$;


ALTER FUNCTION app.alert_standing(p_students uuid[]) OWNER TO postgres;

--
-- Name: apply_alerts(uuid[]); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.apply_alerts(p_students uuid[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET jit TO 'off'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
    v_new app.new_notification[];
begin
    if p_students is null or cardinality(p_students) = 0 then
        return 0;
    end if;
    perform 1
    from app.student_alert_state as s
    where s.student_id in (select w.id from unnest(p_students) as w (id))
    order by s.student_id
    for update;

    with standing as (
        select st.*, s.level as old_level, s.absence_streak as old_streak
        from app.alert_standing(p_students) as st
        inner join app.student_alert_state as s on st.student_id = s.student_id
    ),
    changed as (
        update app.student_alert_state as s
        set level = st.level, absence_streak = st.in_streak, changed_at = now()
        from standing as st
        where s.student_id = st.student_id
            and (s.level is distinct from st.level or s.absence_streak <> st.in_streak)
        returning st.student_id, st.present, st.marked, st.rate, st.level, st.old_level, st.in_streak, st.old_streak
    ),
    raised as (
        -- A deeper level than the one last raised, and a streak not yet told about.
        select c.student_id, c.present, c.marked, c.rate, c.level as kind
        from changed as c
        -- deeper: later in tasdiq, warning, mahroom (0 for none)
        where coalesce(array_position(array['tasdiq', 'warning', 'mahroom'], c.level), 0)
            > coalesce(array_position(array['tasdiq', 'warning', 'mahroom'], c.old_level), 0)
        union all
        select c.student_id, c.present, c.marked, c.rate, 'consecutive_absence'
        from changed as c
        where c.in_streak and not c.old_streak
    ),
    described as (
        select
            r.student_id,
            r.kind,
            r.rate,
            r.present,
            r.marked,
            t.threshold,
            t.inclusive,
            case when t.level is not null then app.recovery_periods(r.present, r.marked, t.threshold, t.inclusive) end
                as recovery,
            (
                -- the latest days with a period missed (absent, sick or leave: not present)
                select coalesce(jsonb_agg(a.date order by a.date desc), '[]'::jsonb)
                from (
                    select dd.date
                    from app.student_attendance_daily as dd
                    where dd.student_id = r.student_id and dd.marked > dd.present
                    order by dd.date desc
                    limit 10
                ) as a
            ) as absences,
            cfg.consecutive_absence_days as streak_days
        from raised as r
        cross join app.alert_settings as cfg
        left join app.attendance_thresholds as t on r.kind = t.level
    )
    select array_agg(
        row(
            d.student_id,
            case d.kind
                when 'mahroom' then 'mahroom_alert'
                when 'warning' then 'attendance_warning'
                when 'tasdiq' then 'tasdiq_alert'
                else 'consecutive_absence'
            end,
            case d.kind
                when 'mahroom' then format('Mahroom: attendance at or below %s %%', d.threshold)
                when 'warning' then format('Attendance warning: below %s %%', d.threshold)
                when 'tasdiq' then format('Certification (tasdiq) required: below %s %%', d.threshold)
                else format('Absent %s school days in a row', d.streak_days)
            end,
            case
                when d.kind = 'consecutive_absence' then format(
                    'You were absent for every period of your last %s school days (%s). '
                    'Your attendance is %s %%.',
                    d.streak_days,
                    (select string_agg(x.value #>> '{}', ', ') from jsonb_array_elements(d.absences) with ordinality as x
                        where x.ordinality <= d.streak_days),
                    d.rate
                )
                else format(
                    'Your attendance is %s %% (%s of %s marked periods present), %s %s %%. %s',
                    d.rate, d.present, d.marked,
                    case when d.inclusive then 'at or below' else 'below' end, d.threshold,
                    case
                        when d.recovery is null then 'No number of present periods brings it back.'
                        else format('%s consecutive present periods would bring you back out of this level.', d.recovery)
                    end
                )
            end,
            case when d.kind = 'mahroom' then 'error' else 'warning' end,
            null,
            jsonb_build_object(
                'alert', d.kind,
                'rate', d.rate,
                'present', d.present,
                'marked', d.marked,
                'threshold', d.threshold,
                'inclusive', d.inclusive,
                'recovery', d.recovery,
                'recentAbsences', d.absences
            ) || case when d.kind = 'consecutive_absence' then jsonb_build_object('days', d.streak_days) else '{}' end
        )::app.new_notification
        order by d.student_id, d.kind
    )
    into v_new
    from described as d;

    return (select count(*)::integer from app.create_notifications(v_new));
end;
$$;


ALTER FUNCTION app.apply_alerts(p_students uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION apply_alerts(p_students uuid[]); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.apply_alerts(p_students uuid[]) IS 'Raise the threshold and consecutive-absence alerts these students are owed and re-arm the levels they left.';


--
-- Name: authorize_admin(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.authorize_admin() RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    if auth.uid() is null then
        raise exception using errcode = '28000', message = 'no authenticated user';
    end if;
    if not app.is_admin() then
        raise exception using errcode = '42501', message = 'only admins may do this';
    end if;
end;
$$;


ALTER FUNCTION app.authorize_admin() OWNER TO postgres;

--
-- Name: authorize_class(uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.authorize_class(p_class_id uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
    if auth.uid() is null then
        raise exception using errcode = '28000', message = 'no authenticated user';
    end if;
    if p_class_id is null then
        raise exception using errcode = '22004', message = 'class_id is required';
    end if;
    if p_class_id = app.my_class_id() then
        return;
    end if;
    if not app.is_staff() then
        raise exception using errcode = '42501', message = 'students may only see their own class';
    end if;
    if not exists (select 1 from app.classes as c where c.id = p_class_id) then
        raise exception using errcode = 'P0002', message = format('class %s does not exist', p_class_id);
    end if;
    if not app.is_admin() and not p_class_id in (select app.taught_class_ids()) then
        raise exception using
            errcode = '42501',
            message = format('only teachers of class %s and admins may see its figures', p_class_id);
    end if;
end;
$$;


ALTER FUNCTION app.authorize_class(p_class_id uuid) OWNER TO postgres;

--
-- Name: authorize_student(uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.authorize_student(p_student_id uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
    v_caller uuid := auth.uid();
    v_class uuid;
begin
    if v_caller is null then
        raise exception using errcode = '28000', message = 'no authenticated user';
    end if;
    if p_student_id is null then
        raise exception using errcode = '22004', message = 'student_id is required';
    end if;
    select s.class_id into v_class from app.students as s where s.id = p_student_id;
    if found and p_student_id = v_caller then
        return v_class;
    end if;
    if not app.is_staff() then
        raise exception using errcode = '42501', message = 'students may only see their own figures';
    end if;
    if v_class is null then
        raise exception using errcode = 'P0002', message = format('student %s does not exist', p_student_id);
    end if;
    if not app.is_admin() and not v_class in (select app.taught_class_ids()) then
        raise exception using
            errcode = '42501',
            message = format('only teachers of class %s and admins may see this student', v_class);
    end if;
    return v_class;
end;
$$;


ALTER FUNCTION app.authorize_student(p_student_id uuid) OWNER TO postgres;

--
-- Name: begin_certificate_scan(uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.begin_certificate_scan(p_file_id uuid) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION app.begin_certificate_scan(p_file_id uuid) OWNER TO postgres;

--
-- Name: begin_email_deliveries(bigint[]); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.begin_email_deliveries(p_deliveries bigint[]) RETURNS TABLE(delivery_id bigint, delivery jsonb)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    with started as (
        update app.notification_deliveries as d
        set status = 'sending',
            attempts = d.attempts + 1,
            resends = d.resends + (d.status = 'sending')::integer,
            updated_at = now()
        from (
            select x.id, x.status
            from app.notification_deliveries as x
            where x.id = any(p_deliveries) and x.channel = 'email' and x.status not in ('sent', 'dead')
            order by x.id
            for update
        ) as before
        where d.id = before.id
        returning d.id, d.notification_id, d.message_id, d.recipient, before.status = 'sending' as resend
    )
    select
        st.id,
        jsonb_build_object(
            'deliveryId', st.id,
            'resend', st.resend,
            'messageId', st.message_id,
            'recipient', st.recipient,
            'studentName', s.name,
            'type', n.type,
            'title', n.title,
            'message', n.message,
            'severity', n.severity,
            'createdAt', n.created_at,
            'metadata', n.metadata
        )
    from started as st
    inner join app.notifications as n on st.notification_id = n.id
    inner join app.students as s on n.student_id = s.id
$$;


ALTER FUNCTION app.begin_email_deliveries(p_deliveries bigint[]) OWNER TO postgres;

--
-- Name: begin_events(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.begin_events() RETURNS xid8
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_horizon xid8;
begin
    perform pg_catalog.pg_advisory_xact_lock_shared(app.event_writer_lock());
    perform pg_catalog.pg_notify('app_events', '');
    select greatest(pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()), pg_catalog.pg_current_xact_id())
    into v_horizon;
    return v_horizon;
end;
$$;


ALTER FUNCTION app.begin_events() OWNER TO postgres;

--
-- Name: caller_student_id(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.caller_student_id() RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
    v_id uuid;
begin
    if auth.uid() is null then
        raise exception using errcode = '28000', message = 'no authenticated user';
    end if;
    select s.id into v_id from app.students as s where s.id = auth.uid();
    if v_id is null then
        raise exception using
            errcode = '42501',
            message = 'only students have figures of their own; staff pass a student_id';
    end if;
    return v_id;
end;
$$;


ALTER FUNCTION app.caller_student_id() OWNER TO postgres;

--
-- Name: certificate_for_download(uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.certificate_for_download(p_file_id uuid) RETURNS TABLE(student_id uuid, file_name text, content_type text, size_bytes integer, stored_name text, status text, url_version integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select
        c.student_id, c.file_name, c.content_type, c.size_bytes, c.stored_name, c.status,
        app.certificate_url_version(c)
    from app.medical_certificates as c
    where c.id = p_file_id
$$;


ALTER FUNCTION app.certificate_for_download(p_file_id uuid) OWNER TO postgres;

--
-- Name: medical_certificates; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.medical_certificates (
    id uuid NOT NULL,
    student_id uuid NOT NULL,
    file_name text NOT NULL,
    description text,
    content_type text NOT NULL,
    size_bytes integer NOT NULL,
    sha256 text NOT NULL,
    stored_name text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    scan_result jsonb,
    review_reason text,
    reviewed_by uuid,
    reviewed_at timestamp with time zone,
    url_version integer DEFAULT 1 NOT NULL,
    uploaded_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT medical_certificates_content_type_check CHECK ((content_type = ANY (ARRAY['application/pdf'::text, 'image/jpeg'::text, 'image/png'::text]))),
    CONSTRAINT medical_certificates_description_length CHECK ((length(description) <= 1000)),
    CONSTRAINT medical_certificates_file_name_is_display_text CHECK ((((length(file_name) >= 1) AND (length(file_name) <= 255)) AND (file_name !~ '[[:cntrl:]/\\\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]'::text) AND (file_name <> ALL (ARRAY['.'::text, '..'::text])))),
    CONSTRAINT medical_certificates_rejected_has_reason CHECK (((status <> 'rejected'::text) OR (review_reason IS NOT NULL))),
    CONSTRAINT medical_certificates_review_reason_check CHECK (((length(review_reason) >= 1) AND (length(review_reason) <= 1000))),
    CONSTRAINT medical_certificates_reviewed_when_decided CHECK (((status = ANY (ARRAY['approved'::text, 'rejected'::text])) = (reviewed_at IS NOT NULL))),
    CONSTRAINT medical_certificates_sha256_check CHECK ((sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT medical_certificates_size_bytes_check CHECK (((size_bytes >= 1) AND (size_bytes <= 10485760))),
    CONSTRAINT medical_certificates_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'scanning'::text, 'clean'::text, 'quarantined'::text, 'approved'::text, 'rejected'::text]))),
    CONSTRAINT medical_certificates_stored_name_agrees_with_type CHECK ((split_part(stored_name, '.'::text, 2) =
CASE content_type
    WHEN 'application/pdf'::text THEN 'pdf'::text
    WHEN 'image/jpeg'::text THEN 'jpg'::text
    ELSE 'png'::text
END)),
    CONSTRAINT medical_certificates_stored_name_check CHECK ((stored_name ~ '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.(pdf|jpg|png)$'::text)),
    CONSTRAINT medical_certificates_url_version_check CHECK ((url_version >= 1))
);


ALTER TABLE app.medical_certificates OWNER TO postgres;

--
-- Name: TABLE medical_certificates; Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON TABLE app.medical_certificates IS 'Uploaded medical certificates: display name, sniffed type, size, sha256, the generated storage name, scan and review outcome. Written only through functions; url_version signs download URLs.';


--
-- Name: certificate_json(app.medical_certificates); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.certificate_json(c app.medical_certificates) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION app.certificate_json(c app.medical_certificates) OWNER TO postgres;

--
-- Name: certificate_url_version(app.medical_certificates); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.certificate_url_version(c app.medical_certificates) RETURNS integer
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
    select case when c.status in ('clean', 'approved') then c.url_version end
$$;


ALTER FUNCTION app.certificate_url_version(c app.medical_certificates) OWNER TO postgres;

--
-- Name: certificates_changed(uuid, uuid, text); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.certificates_changed(p_student_id uuid, p_file_id uuid, p_what text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION app.certificates_changed(p_student_id uuid, p_file_id uuid, p_what text) OWNER TO postgres;

--
-- Name: check_alerts(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.check_alerts() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET jit TO 'off'
    AS $$
declare
    c_lock constant bigint := 7245120394;
    v_students uuid[];
begin
    if not pg_catalog.pg_try_advisory_xact_lock(c_lock) then
        raise notice 'alert check skipped: another one is running';
        return null;
    end if;
    select array_agg(st.student_id order by st.student_id)
    into v_students
    from app.alert_standing(array(select s.id from app.students as s)) as st
    inner join app.student_alert_state as s on st.student_id = s.student_id
    where s.level is distinct from st.level or s.absence_streak <> st.in_streak;
    return app.apply_alerts(v_students);
end;
$$;


ALTER FUNCTION app.check_alerts() OWNER TO postgres;

--
-- Name: FUNCTION check_alerts(); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.check_alerts() IS 'Hourly backstop (pg_cron): apply_alerts() for every student whose alert state is stale.';


--
-- Name: check_certificate_uploader(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.check_certificate_uploader() RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    perform app.caller_student_id();
end;
$$;


ALTER FUNCTION app.check_certificate_uploader() OWNER TO postgres;

--
-- Name: check_export_range(date, date); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.check_export_range(p_from date, p_to date) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
begin
    if p_from is null or p_to is null then
        raise exception using errcode = '22023', message = 'an export needs both from and to';
    end if;
    if p_to < p_from then
        raise exception using errcode = '22023', message = format('to (%s) is before from (%s)', p_to, p_from);
    end if;
end;
$$;


ALTER FUNCTION app.check_export_range(p_from date, p_to date) OWNER TO postgres;

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
-- Name: create_event_partitions(integer, date); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.create_event_partitions(p_days_ahead integer DEFAULT 3, p_from date DEFAULT CURRENT_DATE) RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
    v_day date;
    v_name text;
    v_start timestamptz;
    v_end timestamptz;
begin
    for i in 0 .. p_days_ahead loop
        v_day := p_from + i;
        v_name := format('events_%s', to_char(v_day, 'YYYYMMDD'));
        v_start := v_day::timestamp at time zone 'UTC';
        v_end := (v_day + 1)::timestamp at time zone 'UTC';
        continue when to_regclass(format('app.%I', v_name)) is not null;
        execute format('create table app.%I (like app.events including defaults including constraints)', v_name);
        execute format(
            'with moved as (delete from app.events_default where at >= %L and at < %L returning *)'
            ' insert into app.%I select * from moved',
            v_start, v_end, v_name
        );
        execute format(
            'alter table app.events attach partition app.%I for values from (%L) to (%L)',
            v_name, v_start, v_end
        );
        return next v_name;
    end loop;
end;
$$;


ALTER FUNCTION app.create_event_partitions(p_days_ahead integer, p_from date) OWNER TO postgres;

--
-- Name: create_notifications(app.new_notification[]); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.create_notifications(p_new app.new_notification[]) RETURNS SETOF uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET jit TO 'off'
    AS $$
declare
    v_horizon xid8;
    v_ids uuid[];
    v_urgent jsonb[];
    v_normal jsonb[];
    v_low jsonb[];
begin
    if p_new is null or cardinality(p_new) = 0 then
        return;
    end if;
    -- The outbox rows below take this transaction's horizon (see app.begin_events()).
    v_horizon := app.begin_events();
    with wanted as (
        select
            gen_random_uuid() as id,
            n.student_id,
            n.type,
            n.title,
            n.message,
            n.severity,
            n.action_url,
            coalesce(n.metadata, '{}'::jsonb) as metadata,
            s.email as address,
            n.ordinality,
            coalesce(
                case
                    when n.type in ('attendance_warning', 'mahroom_alert', 'tasdiq_alert', 'consecutive_absence')
                        then p.attendance_alerts
                    when n.type in ('file_approved', 'file_rejected') then p.file_updates
                    else p.system_announcements
                end,
                false
            ) as kind_wanted,
            coalesce(p.in_app_enabled, false) as in_app_on,
            coalesce(p.email_enabled, false) as email_on
        from unnest(p_new) with ordinality as n
        inner join app.students as s on n.student_id = s.id
        left join app.notification_preferences as p on n.student_id = p.student_id
    ),
    created as (
        insert into app.notifications (id, student_id, type, title, message, severity, action_url, metadata, in_app)
        select w.id, w.student_id, w.type, w.title, w.message, w.severity, w.action_url, w.metadata, w.kind_wanted and w.in_app_on
        from wanted as w
        order by w.ordinality
        returning id, student_id, type, title, message, severity, action_url, created_at, in_app
    ),
    in_app as (
        -- Writing the row and its event is the in-app delivery.
        insert into app.notification_deliveries (notification_id, channel, status, attempts, sent_at)
        select c.id, 'in_app', 'sent', 1, now() from created as c where c.in_app
    ),
    announced as (
        insert into app.events (horizon, topic, student_id, class_id, payload)
        select
            v_horizon,
            'notification',
            c.student_id,
            null,
            jsonb_build_object(
                'id', c.id,
                'type', c.type,
                'title', c.title,
                'message', c.message,
                'severity', c.severity,
                'actionUrl', c.action_url,
                'createdAt', c.created_at,
                'read', false
            )
        from created as c
        where c.in_app
    ),
    email as (
        insert into app.notification_deliveries (notification_id, channel, message_id, recipient)
        select w.id, 'email', format('<%s@attendance.localhost>', w.id), w.address
        from wanted as w
        where w.kind_wanted and w.email_on
        order by w.ordinality
        returning id, notification_id
    ),
    jobs as (
        select
            case w.type when 'mahroom_alert' then 'jobs_urgent' when 'system_announcement' then 'jobs_low'
                else 'jobs_normal' end as queue,
            jsonb_build_object('task', 'email', 'deliveryId', e.id) as message,
            e.id
        from email as e
        inner join wanted as w on e.notification_id = w.id
    )
    select
        (select array_agg(w.id order by w.ordinality) from wanted as w),
        (select array_agg(j.message order by j.id) from jobs as j where j.queue = 'jobs_urgent'),
        (select array_agg(j.message order by j.id) from jobs as j where j.queue = 'jobs_normal'),
        (select array_agg(j.message order by j.id) from jobs as j where j.queue = 'jobs_low')
    into v_ids, v_urgent, v_normal, v_low;

    if v_urgent is not null then
        perform pgmq.send_batch('jobs_urgent', v_urgent);
    end if;
    if v_normal is not null then
        perform pgmq.send_batch('jobs_normal', v_normal);
    end if;
    if v_low is not null then
        perform pgmq.send_batch('jobs_low', v_low);
    end if;
    return query select unnest(v_ids);
end;
$$;


ALTER FUNCTION app.create_notifications(p_new app.new_notification[]) OWNER TO postgres;

--
-- Name: FUNCTION create_notifications(p_new app.new_notification[]); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.create_notifications(p_new app.new_notification[]) IS 'Create notifications with their in-app and email deliveries as the preferences allow, their outbox events and their pgmq messages, in the caller''s transaction.';


--
-- Name: dashboard_of(uuid, uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.dashboard_of(p_student_id uuid, p_class_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
    v_sum app.student_attendance_summary;
    v_rank bigint;
    v_class_average numeric;
begin
    select * into v_sum from app.student_attendance_summary as sm where sm.student_id = p_student_id;
    select r.rank into v_rank from analytics.class_rankings(p_class_id) as r where r.student_id = p_student_id;
    select f.average_attendance into v_class_average from analytics.class_figures(p_class_id) as f;
    return jsonb_build_object(
        'studentId', p_student_id,
        'classId', p_class_id,
        'totalClasses', coalesce(v_sum.marked, 0),
        'attendanceRate', v_sum.attendance_rate,
        'presentDays', coalesce(v_sum.present, 0),
        'absentDays', coalesce(v_sum.absent, 0),
        'sickDays', coalesce(v_sum.sick, 0),
        'leaveDays', coalesce(v_sum.leave, 0),
        'notMarked', coalesce(v_sum.not_marked, 0),
        'classAverage', v_class_average,
        'ranking', v_rank,
        'trend', app.student_trend(p_student_id),
        'recovery', app.recovery_of(v_sum.present, v_sum.marked),
        'alertLevel', (select a.level from app.student_alert_state as a where a.student_id = p_student_id),
        'lastUpdated', coalesce(v_sum.updated_at, now()),
        'freshness', analytics.freshness()
    );
end;
$$;


ALTER FUNCTION app.dashboard_of(p_student_id uuid, p_class_id uuid) OWNER TO postgres;

--
-- Name: dashboards_for(uuid[]); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.dashboards_for(p_students uuid[]) RETURNS TABLE(student_id uuid, class_id uuid, dashboard jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    return query
    select s.id, s.class_id, app.dashboard_of(s.id, s.class_id)
    from app.students as s
    where s.id = any(p_students);
end;
$$;


ALTER FUNCTION app.dashboards_for(p_students uuid[]) OWNER TO postgres;

--
-- Name: FUNCTION dashboards_for(p_students uuid[]); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.dashboards_for(p_students uuid[]) IS 'StudentDashboardMetrics of these students, for the edge''s live updates (runs as its owner: no caller to authorize).';


--
-- Name: drop_expired_event_partitions(timestamp with time zone); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.drop_expired_event_partitions(p_now timestamp with time zone DEFAULT now()) RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
declare
    v_part record;
    v_horizon xid8;
    v_id bigint;
begin
    for v_part in
        select c.oid::regclass as rel, c.relname,
            pg_catalog.to_date(pg_catalog.substr(c.relname, 8), 'YYYYMMDD') as day
        from pg_catalog.pg_inherits as i
        inner join pg_catalog.pg_class as c on i.inhrelid = c.oid
        where i.inhparent = 'app.events'::regclass and c.relname ~ '^events_[0-9]{8}$'
        order by c.relname
    loop
        continue when (v_part.day + 1)::timestamp at time zone 'UTC' > p_now - app.event_retention();
        execute format('select horizon, id from %s order by horizon desc, id desc limit 1', v_part.rel)
        into v_horizon, v_id;
        if v_horizon is not null then
            update app.event_retention as r
            set dropped_through_horizon = v_horizon,
                dropped_through_id = v_id,
                dropped_at = now()
            where (r.dropped_through_horizon, r.dropped_through_id) < (v_horizon, v_id);
        end if;
        execute format('drop table %s', v_part.rel);
        return next v_part.relname::text;
    end loop;
end;
$_$;


ALTER FUNCTION app.drop_expired_event_partitions(p_now timestamp with time zone) OWNER TO postgres;

--
-- Name: event_bound(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.event_bound(OUT oldest_writer xid8, OUT xmax xid8, OUT last_id bigint) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
        raise exception using
            errcode = '25001',
            message = 'events are read in READ COMMITTED transactions only',
            hint = 'Each statement must see the transactions that ended before it started.';
    end if;
    -- First the sequence: ids a writer takes after the scan below are larger.
    select case when s.is_called then s.last_value else 0 end into last_id from app.events_id_seq as s;
    -- Then, in one statement, this snapshot's xmax and the registered writers.
    with snap as (
        select pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()) as xmax
    )
    select
        snap.xmax,
        (
            select min(app.widen_xid(t.transactionid, snap.xmax))
            from pg_catalog.pg_locks as a
            inner join pg_catalog.pg_locks as t
                on t.virtualtransaction = a.virtualtransaction
                and t.locktype = 'transactionid'
                and t.mode = 'ExclusiveLock'
                and t.granted
            where a.locktype = 'advisory'
                and a.database = (select d.oid from pg_catalog.pg_database as d where d.datname = pg_catalog.current_database())
                and a.classid::bigint = (app.event_writer_lock() >> 32)
                and a.objid::bigint = (app.event_writer_lock() & 4294967295)
                and a.objsubid = 1
                and a.granted
        )
    into xmax, oldest_writer
    from snap;
end;
$$;


ALTER FUNCTION app.event_bound(OUT oldest_writer xid8, OUT xmax xid8, OUT last_id bigint) OWNER TO postgres;

--
-- Name: event_head(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.event_head() RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_bound record;
begin
    v_bound := app.event_bound();
    if v_bound.oldest_writer is null or v_bound.oldest_writer > v_bound.xmax then
        return app.event_position(v_bound.xmax, v_bound.last_id);
    end if;
    return app.event_position(v_bound.oldest_writer, 0);
end;
$$;


ALTER FUNCTION app.event_head() OWNER TO postgres;

--
-- Name: event_position(xid8, bigint); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.event_position(p_horizon xid8, p_id bigint) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT
    SET search_path TO ''
    AS $$
begin
    return pg_catalog.lpad(pg_catalog.to_hex(p_horizon::text::bigint), 16, '0')
        || pg_catalog.lpad(pg_catalog.to_hex(p_id), 16, '0');
end;
$$;


ALTER FUNCTION app.event_position(p_horizon xid8, p_id bigint) OWNER TO postgres;

--
-- Name: event_position_expired(xid8, bigint); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.event_position_expired(p_horizon xid8, p_id bigint) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    return exists (
        select 1 from app.event_retention as r
        where (p_horizon, p_id) < (r.dropped_through_horizon, r.dropped_through_id)
    );
end;
$$;


ALTER FUNCTION app.event_position_expired(p_horizon xid8, p_id bigint) OWNER TO postgres;

--
-- Name: event_position_since(timestamp with time zone); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.event_position_since(p_since timestamp with time zone) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_first record;
begin
    select e.horizon, e.id into v_first
    from app.events as e
    where e.at >= p_since
    order by e.horizon, e.id
    limit 1;
    if v_first.horizon is null then
        return app.event_head();
    end if;
    return app.event_position(v_first.horizon, v_first.id - 1);
end;
$$;


ALTER FUNCTION app.event_position_since(p_since timestamp with time zone) OWNER TO postgres;

--
-- Name: event_retention(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.event_retention() RETURNS interval
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
begin
    return interval '72 hours';
end;
$$;


ALTER FUNCTION app.event_retention() OWNER TO postgres;

--
-- Name: event_writer_lock(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.event_writer_lock() RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
begin
    return 7245120393;
end;
$$;


ALTER FUNCTION app.event_writer_lock() OWNER TO postgres;

--
-- Name: export_records(date, date); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.export_records(date_from date, date_to date) RETURNS TABLE(date date, period smallint, subject text, status app.attendance_status, class_name text, marked_at timestamp with time zone)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION app.export_records(date_from date, date_to date) OWNER TO postgres;

--
-- Name: FUNCTION export_records(date_from date, date_to date); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.export_records(date_from date, date_to date) IS 'The calling student''s records in a range, for the edge''s export (not served by PostgREST).';


--
-- Name: export_summary(date, date); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.export_summary(date_from date, date_to date) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION app.export_summary(date_from date, date_to date) OWNER TO postgres;

--
-- Name: FUNCTION export_summary(date_from date, date_to date); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.export_summary(date_from date, date_to date) IS 'The calling student''s figures for a range, for the edge''s export (not served by PostgREST).';


--
-- Name: fail_email_delivery(bigint, text, boolean); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.fail_email_delivery(p_delivery bigint, p_error text, p_dead boolean) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    update app.notification_deliveries as d
    set status = case when p_dead then 'dead' else 'failed' end,
        last_error = left(p_error, 1000),
        updated_at = now()
    where d.id = p_delivery and d.status <> 'sent';
$$;


ALTER FUNCTION app.fail_email_delivery(p_delivery bigint, p_error text, p_dead boolean) OWNER TO postgres;

--
-- Name: finish_certificate_scan(uuid, text[], text[]); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.finish_certificate_scan(p_file_id uuid, p_threats text[], p_engines text[]) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION app.finish_certificate_scan(p_file_id uuid, p_threats text[], p_engines text[]) OWNER TO postgres;

--
-- Name: finish_email_deliveries(bigint[]); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.finish_email_deliveries(p_deliveries bigint[]) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    with sent as (
        update app.notification_deliveries as d
        set status = 'sent', sent_at = now(), updated_at = now(), last_error = null
        where d.id = any(p_deliveries) and d.status <> 'sent'
        returning d.id, d.notification_id, d.attempts, d.resends, d.message_id
    ),
    logged as (
        insert into audit.audit_logs (user_id, action, resource, resource_id, metadata)
        select
            n.student_id,
            'notification_sent',
            'notification',
            s.notification_id::text,
            jsonb_build_object(
                'channel', 'email', 'deliveryId', s.id, 'attempts', s.attempts, 'resends', s.resends,
                'messageId', s.message_id
            )
        from sent as s
        inner join app.notifications as n on s.notification_id = n.id
        returning 1
    )
    select count(*)::integer from logged
$$;


ALTER FUNCTION app.finish_email_deliveries(p_deliveries bigint[]) OWNER TO postgres;

--
-- Name: in_level(integer, integer, numeric, boolean); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.in_level(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean) RETURNS boolean
    LANGUAGE sql IMMUTABLE COST 1
    SET search_path TO ''
    AS $$
    select p_marked > 0
        and (100 * p_present < p_threshold * p_marked or (p_inclusive and 100 * p_present = p_threshold * p_marked))
$$;


ALTER FUNCTION app.in_level(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean) OWNER TO postgres;

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
-- Name: is_marked(app.attendance_status); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.is_marked(p_status app.attendance_status) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO ''
    AS $$
    select p_status <> 'not_marked'::app.attendance_status
$$;


ALTER FUNCTION app.is_marked(p_status app.attendance_status) OWNER TO postgres;

--
-- Name: is_staff(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.is_staff() RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    return exists (select 1 from app.staff as s where s.id = auth.uid());
end;
$$;


ALTER FUNCTION app.is_staff() OWNER TO postgres;

--
-- Name: iso_week_start(text); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.iso_week_start(p_week text) RETURNS date
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $_$
declare
    v_year integer;
    v_week integer;
    v_weeks integer;
    v_jan4 date;
begin
    if p_week is null or p_week !~ '^[0-9]{4}-W[0-9]{2}$' then
        raise exception using
            errcode = '22007',
            message = format('week must be an ISO week such as 2026-W07, got %s', coalesce(p_week, 'null'));
    end if;
    v_year := substr(p_week, 1, 4)::integer;
    v_week := substr(p_week, 7, 2)::integer;
    if v_year < 1 then
        raise exception using errcode = '22023', message = format('week %s does not exist', p_week);
    end if;
    v_weeks := extract(week from make_date(v_year, 12, 28))::integer;
    if v_week not between 1 and v_weeks then
        raise exception using
            errcode = '22023',
            message = format('week %s does not exist: %s has %s ISO weeks', p_week, v_year, v_weeks);
    end if;
    v_jan4 := make_date(v_year, 1, 4);
    return v_jan4 - (extract(isodow from v_jan4)::integer - 1) + (v_week - 1) * 7;
end;
$_$;


ALTER FUNCTION app.iso_week_start(p_week text) OWNER TO postgres;

--
-- Name: maintain_events(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.maintain_events() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
    if not pg_catalog.pg_try_advisory_xact_lock(7245120394) then
        return;
    end if;
    perform app.create_event_partitions(3, (now() at time zone 'UTC')::date - 1);
    perform app.drop_expired_event_partitions();
end;
$$;


ALTER FUNCTION app.maintain_events() OWNER TO postgres;

--
-- Name: may_review_certificates_of(uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.may_review_certificates_of(p_student_id uuid) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    return app.is_admin()
        or exists (
            select 1 from app.students as s
            where s.id = p_student_id and s.class_id in (select app.taught_class_ids())
        );
end;
$$;


ALTER FUNCTION app.may_review_certificates_of(p_student_id uuid) OWNER TO postgres;

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
-- Name: notification_cursor(timestamp with time zone, uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.notification_cursor(p_created_at timestamp with time zone, p_id uuid) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
    select ((extract(epoch from p_created_at) * 1000000)::bigint)::text || '.' || p_id::text
$$;


ALTER FUNCTION app.notification_cursor(p_created_at timestamp with time zone, p_id uuid) OWNER TO postgres;

--
-- Name: parse_event_position(text); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.parse_event_position(p_position text, OUT horizon xid8, OUT id bigint) RETURNS record
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $_$
begin
    if p_position is null or p_position !~ '^[0-9a-f]{32}$' or p_position ~ '^[89a-f]|^.{16}[89a-f]' then
        return;
    end if;
    horizon := ('x' || pg_catalog.substr(p_position, 1, 16))::bit(64)::bigint::text::xid8;
    id := ('x' || pg_catalog.substr(p_position, 17, 16))::bit(64)::bigint;
end;
$_$;


ALTER FUNCTION app.parse_event_position(p_position text, OUT horizon xid8, OUT id bigint) OWNER TO postgres;

--
-- Name: notification_preferences; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.notification_preferences (
    student_id uuid NOT NULL,
    email_enabled boolean DEFAULT true NOT NULL,
    in_app_enabled boolean DEFAULT true NOT NULL,
    attendance_alerts boolean DEFAULT true NOT NULL,
    file_updates boolean DEFAULT true NOT NULL,
    system_announcements boolean DEFAULT true NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE app.notification_preferences OWNER TO postgres;

--
-- Name: preferences_json(app.notification_preferences); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.preferences_json(p app.notification_preferences) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
    select jsonb_build_object(
        'emailEnabled', p.email_enabled,
        'inAppEnabled', p.in_app_enabled,
        'attendanceAlerts', p.attendance_alerts,
        'fileUpdates', p.file_updates,
        'systemAnnouncements', p.system_announcements,
        'updatedAt', p.updated_at
    )
$$;


ALTER FUNCTION app.preferences_json(p app.notification_preferences) OWNER TO postgres;

--
-- Name: queue_certificate_file_deletes(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.queue_certificate_file_deletes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    perform pgmq.send_batch(
        'jobs_low',
        array(select jsonb_build_object('task', 'file_delete', 'storedName', g.stored_name) from gone as g)
    )
    where exists (select 1 from gone);
    return null;
end;
$$;


ALTER FUNCTION app.queue_certificate_file_deletes() OWNER TO postgres;

--
-- Name: read_events(text, integer); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.read_events(p_after text, p_limit integer DEFAULT 1000) RETURNS TABLE(event_position text, topic text, student_id uuid, class_id uuid, payload jsonb, at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_after record := app.parse_event_position(coalesce(p_after, pg_catalog.repeat('0', 32)));
    v_bound record;
begin
    if v_after.horizon is null then
        raise exception using errcode = '22023', message = format('%s is not an event position', p_after);
    end if;
    if p_limit is null or p_limit < 1 or p_limit > 10000 then
        raise exception using errcode = '22023', message = 'p_limit must be between 1 and 10000';
    end if;
    v_bound := app.event_bound();
    return query
    select app.event_position(e.horizon, e.id), e.topic, e.student_id, e.class_id, e.payload, e.at
    from app.events as e
    where (e.horizon, e.id) > (v_after.horizon, v_after.id)
        and (e.horizon < v_bound.oldest_writer or v_bound.oldest_writer is null)
        and (e.horizon, e.id) <= (v_bound.xmax, v_bound.last_id)
    order by e.horizon, e.id
    limit p_limit;
end;
$$;


ALTER FUNCTION app.read_events(p_after text, p_limit integer) OWNER TO postgres;

--
-- Name: FUNCTION read_events(p_after text, p_limit integer); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.read_events(p_after text, p_limit integer) IS 'The outbox after a position, in (horizon, id) order, stopping before anything still in flight (the edge''s bridge).';


--
-- Name: read_jobs(integer, integer, integer, integer); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.read_jobs(p_vt integer, p_batch integer, p_normal_share integer, p_low_share integer) RETURNS TABLE(queue text, msg_id bigint, read_ct integer, message jsonb)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
    v_room integer := p_batch;
    v_got integer;
    v_queue text;
    v_share integer;
begin
    foreach v_queue in array array['jobs_urgent', 'jobs_normal', 'jobs_low'] loop
        v_share := case v_queue when 'jobs_normal' then p_normal_share when 'jobs_low' then p_low_share else 0 end;
        if greatest(v_room, v_share) > 0 then
            return query
            select v_queue, m.msg_id, m.read_ct, m.message
            from pgmq.read(v_queue, p_vt, greatest(v_room, v_share)) as m;
            get diagnostics v_got = row_count;
            v_room := v_room - v_got;
        end if;
    end loop;
end;
$$;


ALTER FUNCTION app.read_jobs(p_vt integer, p_batch integer, p_normal_share integer, p_low_share integer) OWNER TO postgres;

--
-- Name: FUNCTION read_jobs(p_vt integer, p_batch integer, p_normal_share integer, p_low_share integer); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.read_jobs(p_vt integer, p_batch integer, p_normal_share integer, p_low_share integer) IS 'The jobs worker''s read: urgent first, then normal and low with the room left or their share.';


--
-- Name: rebuild_attendance_summaries(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.rebuild_attendance_summaries() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
    v_corrected bigint;
begin
    lock table app.attendance_records in share mode;
    with counts as (
        select
            s.id as student_id,
            count(r.id) filter (where r.status = 'present')::integer as present,
            count(r.id) filter (where r.status = 'absent')::integer as absent,
            count(r.id) filter (where r.status = 'sick')::integer as sick,
            count(r.id) filter (where r.status = 'leave')::integer as leave,
            count(r.id) filter (where r.status = 'not_marked')::integer as not_marked,
            count(r.id) filter (where app.is_marked(r.status))::integer as marked
        from app.students as s
        left join app.attendance_records as r on s.id = r.student_id
        group by s.id
    ),
    corrected as (
        insert into app.student_attendance_summary as t (
            student_id, present, absent, sick, leave, not_marked, marked
        )
        select c.student_id, c.present, c.absent, c.sick, c.leave, c.not_marked, c.marked
        from counts as c
        on conflict (student_id) do update
        set present = excluded.present,
            absent = excluded.absent,
            sick = excluded.sick,
            leave = excluded.leave,
            not_marked = excluded.not_marked,
            marked = excluded.marked,
            updated_at = statement_timestamp()
        where (t.present, t.absent, t.sick, t.leave, t.not_marked, t.marked)
            is distinct from (excluded.present, excluded.absent, excluded.sick, excluded.leave,
                excluded.not_marked, excluded.marked)
        returning 1
    )
    select count(*) into v_corrected from corrected;
    delete from app.student_attendance_daily;
    insert into app.student_attendance_daily (student_id, date, present, marked, records)
    select
        r.student_id,
        r.date,
        count(*) filter (where r.status = 'present'),
        count(*) filter (where app.is_marked(r.status)),
        count(*)
    from app.attendance_records as r
    group by r.student_id, r.date;
    perform analytics.mark_dirty();
    return v_corrected;
end;
$$;


ALTER FUNCTION app.rebuild_attendance_summaries() OWNER TO postgres;

--
-- Name: FUNCTION rebuild_attendance_summaries(); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.rebuild_attendance_summaries() IS 'Recount the attendance summaries from the records (after a load that bypassed triggers).';


--
-- Name: records_in_other_classes(uuid, date, integer, uuid[]); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.records_in_other_classes(p_class_id uuid, p_date date, p_period integer, p_ids uuid[]) RETURNS TABLE(student_id uuid, class_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select r.student_id, r.class_id
    from app.attendance_records as r
    where r.student_id = any(p_ids)
        and r.date = p_date
        and r.period = p_period
        and r.class_id <> p_class_id
        and p_class_id in (select app.taught_class_ids())
$$;


ALTER FUNCTION app.records_in_other_classes(p_class_id uuid, p_date date, p_period integer, p_ids uuid[]) OWNER TO postgres;

--
-- Name: recovery_of(integer, integer); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.recovery_of(p_present integer, p_marked integer) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    select jsonb_object_agg(
        t.level, app.recovery_periods(coalesce(p_present, 0), coalesce(p_marked, 0), t.threshold, t.inclusive)
    )
    from app.attendance_thresholds as t
$$;


ALTER FUNCTION app.recovery_of(p_present integer, p_marked integer) OWNER TO postgres;

--
-- Name: recovery_periods(integer, integer, numeric, boolean); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.recovery_periods(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean) RETURNS integer
    LANGUAGE sql IMMUTABLE COST 1
    SET search_path TO ''
    AS $$
    select case
        -- outside the level (app.in_level, written out: this runs once per alert raised)
        when not (p_marked > 0 and (100 * p_present < p_threshold * p_marked
            or (p_inclusive and 100 * p_present = p_threshold * p_marked))) then 0
        when p_threshold >= 100 then null
        -- inside: 100 p <= t m; out: 100 (p + n) > t (m + n), so n > (t m - 100 p) / (100 - t)
        when p_inclusive then floor((p_threshold * p_marked - 100 * p_present) / (100 - p_threshold))::integer + 1
        -- inside: 100 p < t m; out: 100 (p + n) >= t (m + n)
        else ceil((p_threshold * p_marked - 100 * p_present) / (100 - p_threshold))::integer
    end
$$;


ALTER FUNCTION app.recovery_periods(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean) OWNER TO postgres;

--
-- Name: register_certificate(uuid, text, text, text, integer, text, text); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.register_certificate(p_id uuid, p_file_name text, p_description text, p_content_type text, p_size_bytes integer, p_sha256 text, p_stored_name text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION app.register_certificate(p_id uuid, p_file_name text, p_description text, p_content_type text, p_size_bytes integer, p_sha256 text, p_stored_name text) OWNER TO postgres;

--
-- Name: student_trend(uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.student_trend(p_student_id uuid) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
    v_p1 bigint;
    v_m1 bigint;
    v_p2 bigint;
    v_m2 bigint;
begin
    select
        sum(latest.present) filter (where latest.n <= 14),
        sum(latest.marked) filter (where latest.n <= 14),
        sum(latest.present) filter (where latest.n > 14),
        sum(latest.marked) filter (where latest.n > 14)
    into v_p1, v_m1, v_p2, v_m2
    from (
        select d.present, d.marked, row_number() over (order by d.date desc) as n
        from app.student_attendance_daily as d
        where d.student_id = p_student_id and d.marked > 0
        order by d.date desc
        limit 28
    ) as latest;
    return case
        when v_m1 is null or v_m2 is null then 'stable'
        -- 100 * (p1/m1 - p2/m2) compared with +-5 in integers, so no rounding decides a trend.
        when 100 * (v_p1 * v_m2 - v_p2 * v_m1) >= 5 * v_m1 * v_m2 then 'improving'
        when 100 * (v_p1 * v_m2 - v_p2 * v_m1) <= -5 * v_m1 * v_m2 then 'declining'
        else 'stable'
    end;
end;
$$;


ALTER FUNCTION app.student_trend(p_student_id uuid) OWNER TO postgres;

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
-- Name: tg__mark_analytics_dirty(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg__mark_analytics_dirty() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    perform analytics.mark_dirty();
    return null;
end;
$$;


ALTER FUNCTION app.tg__mark_analytics_dirty() OWNER TO postgres;

--
-- Name: tg_attendance_records__alerts(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg_attendance_records__alerts() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_students uuid[];
begin
    if tg_op = 'INSERT' then
        select array_agg(distinct n.student_id) into v_students from new_rows as n;
    elsif tg_op = 'DELETE' then
        select array_agg(distinct o.student_id) into v_students from old_rows as o;
    else
        select array_agg(distinct x.student_id) into v_students
        from (select n.student_id from new_rows as n union select o.student_id from old_rows as o) as x;
    end if;
    perform app.apply_alerts(v_students);
    return null;
end;
$$;


ALTER FUNCTION app.tg_attendance_records__alerts() OWNER TO postgres;

--
-- Name: tg_attendance_records__alerts_truncate(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg_attendance_records__alerts_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    perform app.apply_alerts((select array_agg(s.student_id) from app.student_alert_state as s));
    return null;
end;
$$;


ALTER FUNCTION app.tg_attendance_records__alerts_truncate() OWNER TO postgres;

--
-- Name: tg_attendance_records__events(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg_attendance_records__events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_changes app.attendance_change[];
    v_horizon xid8;
begin
    if tg_op = 'INSERT' then
        select array_agg(
            row(n.student_id, n.class_id, n.date, n.period, n.subject, n.status, null, n.marked_by,
                n.marked_at, 'marked')::app.attendance_change
            order by n.student_id, n.date, n.period
        )
        into v_changes
        from new_rows as n;
    elsif tg_op = 'UPDATE' then
        select array_agg(
            row(n.student_id, n.class_id, n.date, n.period, n.subject, n.status, o.status, n.marked_by,
                n.marked_at, 're-marked')::app.attendance_change
            order by n.student_id, n.date, n.period
        )
        into v_changes
        from new_rows as n
        inner join old_rows as o on n.id = o.id
        where (n.status, n.subject, n.student_id, n.class_id, n.date, n.period)
            is distinct from (o.status, o.subject, o.student_id, o.class_id, o.date, o.period);
    else
        select array_agg(
            row(o.student_id, o.class_id, o.date, o.period, o.subject, null, o.status, o.marked_by,
                o.marked_at, 'deleted')::app.attendance_change
            order by o.student_id, o.date, o.period
        )
        into v_changes
        from old_rows as o;
    end if;
    if v_changes is null then
        return null;
    end if;
    v_horizon := app.begin_events();
    -- The event names the student's class now (whose figures the change moves), which is the
    -- record's class unless the student has moved since the period was held.
    insert into app.events (horizon, topic, student_id, class_id, payload)
    select
        v_horizon,
        'attendance_update',
        c.student_id,
        coalesce(s.class_id, c.class_id),
        jsonb_build_object(
            'change', c.change,
            'studentId', c.student_id,
            'date', c.date,
            'period', c.period,
            'subject', c.subject,
            'status', c.status,
            'previousStatus', c.previous_status,
            'markedBy', c.marked_by,
            'markedAt', c.marked_at
        )
    from unnest(v_changes) with ordinality as c
    left join app.students as s on c.student_id = s.id
    order by c.ordinality;
    return null;
end;
$$;


ALTER FUNCTION app.tg_attendance_records__events() OWNER TO postgres;

--
-- Name: tg_attendance_records__events_truncate(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg_attendance_records__events_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    perform app.write_events(
        (
            select jsonb_agg(
                jsonb_build_object(
                    'topic', 'reset',
                    'studentId', s.id,
                    'classId', s.class_id,
                    'payload', jsonb_build_object('reason', 'attendance_truncated')
                )
            )
            from app.students as s
        )
    );
    return null;
end;
$$;


ALTER FUNCTION app.tg_attendance_records__events_truncate() OWNER TO postgres;

--
-- Name: tg_attendance_records__summarise(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg_attendance_records__summarise() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
    v_rows text := case tg_op
        when 'INSERT' then 'select student_id, date, status, 1 as n from new_rows'
        when 'DELETE' then 'select student_id, date, status, -1 as n from old_rows'
        else 'select student_id, date, status, 1 as n from new_rows'
            || ' union all select student_id, date, status, -1 as n from old_rows'
    end;
    v_changed bigint;
begin
    -- Lock the students' summary rows in id order first: two statements marking the same
    -- class then queue instead of deadlocking, and every other row they touch is that student's.
    execute format(
        'select count(*) from (select 1 from app.student_attendance_summary'
        ' where student_id in (select d.student_id from (%s) as d) order by student_id for update) as l',
        v_rows
    );
    execute format(
        $sql$
        with statuses as (
            -- is_marked() once per status, not once per record.
            select s.status, app.is_marked(s.status) as counted
            from unnest(enum_range(null::app.attendance_status)) as s (status)
        ),
        delta as (
            -- A deleted student's rows go with the student (cascade): nothing to count.
            select d.student_id, d.date, d.status, d.n, st.counted
            from (%s) as d
            inner join statuses as st on d.status = st.status
            where exists (select 1 from app.students as s where s.id = d.student_id)
        ),
        per_day as (
            select
                student_id,
                date,
                coalesce(sum(n) filter (where status = 'present'), 0)::integer as present,
                coalesce(sum(n) filter (where counted), 0)::integer as marked,
                sum(n)::integer as records
            from delta
            group by student_id, date
        ),
        per_student as (
            select
                student_id,
                coalesce(sum(n) filter (where status = 'present'), 0)::integer as present,
                coalesce(sum(n) filter (where status = 'absent'), 0)::integer as absent,
                coalesce(sum(n) filter (where status = 'sick'), 0)::integer as sick,
                coalesce(sum(n) filter (where status = 'leave'), 0)::integer as leave,
                coalesce(sum(n) filter (where status = 'not_marked'), 0)::integer as not_marked,
                coalesce(sum(n) filter (where counted), 0)::integer as marked
            from delta
            group by student_id
        ),
        -- Deltas update existing rows; only rows that do not exist yet are inserted (CHECK
        -- constraints apply to the proposed row before ON CONFLICT, so a negative delta must
        -- never take the insert path: if it does, the summaries have drifted and it fails loudly).
        daily_updated as (
            update app.student_attendance_daily as t
            set present = t.present + d.present,
                marked = t.marked + d.marked,
                records = t.records + d.records
            from per_day as d
            where t.student_id = d.student_id
                and t.date = d.date
                and (d.present, d.marked, d.records) <> (0, 0, 0)
            returning t.student_id, t.date
        ),
        daily_inserted as (
            insert into app.student_attendance_daily as t (student_id, date, present, marked, records)
            select d.student_id, d.date, d.present, d.marked, d.records
            from per_day as d
            where (d.present, d.marked, d.records) <> (0, 0, 0)
                -- The statement's snapshot predates daily_updated: rows it sees are the updated ones.
                and not exists (
                    select 1 from app.student_attendance_daily as e
                    where e.student_id = d.student_id and e.date = d.date
                )
            order by d.student_id, d.date
            on conflict (student_id, date) do update
            set present = t.present + excluded.present,
                marked = t.marked + excluded.marked,
                records = t.records + excluded.records
            returning t.student_id
        ),
        summary_updated as (
            update app.student_attendance_summary as s
            set present = s.present + d.present,
                absent = s.absent + d.absent,
                sick = s.sick + d.sick,
                leave = s.leave + d.leave,
                not_marked = s.not_marked + d.not_marked,
                marked = s.marked + d.marked,
                updated_at = statement_timestamp()
            from per_student as d
            where s.student_id = d.student_id
                and (d.present, d.absent, d.sick, d.leave, d.not_marked) <> (0, 0, 0, 0, 0)
            returning s.student_id
        ),
        summary_inserted as (
            insert into app.student_attendance_summary (
                student_id, present, absent, sick, leave, not_marked, marked
            )
            select d.student_id, d.present, d.absent, d.sick, d.leave, d.not_marked, d.marked
            from per_student as d
            where (d.present, d.absent, d.sick, d.leave, d.not_marked) <> (0, 0, 0, 0, 0)
                and not exists (select 1 from app.student_attendance_summary as e where e.student_id = d.student_id)
            returning student_id
        )
        select
            (select count(*) from summary_updated)
            + (select count(*) from summary_inserted)
            + (select count(*) from daily_updated)
            + (select count(*) from daily_inserted)
        $sql$,
        v_rows
    ) into v_changed;
    if v_changed > 0 then
        perform analytics.mark_dirty();
    end if;
    return null;
end;
$_$;


ALTER FUNCTION app.tg_attendance_records__summarise() OWNER TO postgres;

--
-- Name: tg_attendance_records__summarise_truncate(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg_attendance_records__summarise_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    update app.student_attendance_summary
    set present = 0, absent = 0, sick = 0, leave = 0, not_marked = 0, marked = 0,
        updated_at = statement_timestamp()
    where marked + not_marked > 0;
    delete from app.student_attendance_daily;
    perform analytics.mark_dirty();
    return null;
end;
$$;


ALTER FUNCTION app.tg_attendance_records__summarise_truncate() OWNER TO postgres;

--
-- Name: tg_attendance_thresholds__check_order(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg_attendance_thresholds__check_order() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_tasdiq numeric;
    v_warning numeric;
    v_mahroom numeric;
begin
    select
        max(t.threshold) filter (where t.level = 'tasdiq'),
        max(t.threshold) filter (where t.level = 'warning'),
        max(t.threshold) filter (where t.level = 'mahroom')
    into v_tasdiq, v_warning, v_mahroom
    from app.attendance_thresholds as t;
    if v_tasdiq is null or v_warning is null or v_mahroom is null then
        raise exception using
            errcode = '23514',
            constraint = 'attendance_thresholds_three_levels',
            message = 'attendance_thresholds_three_levels: tasdiq, warning and mahroom must each have a row';
    end if;
    if not (v_tasdiq >= v_warning and v_warning >= v_mahroom) then
        raise exception using
            errcode = '23514',
            constraint = 'attendance_thresholds_levels_nested',
            message = format(
                'attendance_thresholds_levels_nested: tasdiq (%s) must be at or above warning (%s), '
                'and warning at or above mahroom (%s)',
                v_tasdiq, v_warning, v_mahroom
            );
    end if;
    return null;
end;
$$;


ALTER FUNCTION app.tg_attendance_thresholds__check_order() OWNER TO postgres;

--
-- Name: tg_students__create_alert_rows(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg_students__create_alert_rows() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    insert into app.student_alert_state (student_id) select n.id from new_rows as n on conflict do nothing;
    insert into app.notification_preferences (student_id) select n.id from new_rows as n on conflict do nothing;
    return null;
end;
$$;


ALTER FUNCTION app.tg_students__create_alert_rows() OWNER TO postgres;

--
-- Name: tg_students__create_summary(); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.tg_students__create_summary() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    insert into app.student_attendance_summary (student_id)
    select id from new_rows
    on conflict (student_id) do nothing;
    perform analytics.mark_dirty();
    return null;
end;
$$;


ALTER FUNCTION app.tg_students__create_summary() OWNER TO postgres;

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
-- Name: visible_certificate(uuid); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.visible_certificate(p_file_id uuid) RETURNS app.medical_certificates
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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


ALTER FUNCTION app.visible_certificate(p_file_id uuid) OWNER TO postgres;

--
-- Name: widen_xid(xid, xid8); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.widen_xid(p_xid xid, p_near xid8) RETURNS xid8
    LANGUAGE plpgsql IMMUTABLE STRICT
    SET search_path TO ''
    AS $$
declare
    c_wrap constant bigint := 4294967296;
    v_near bigint := p_near::text::bigint;
    v_full bigint := (v_near / c_wrap) * c_wrap + p_xid::text::bigint;
begin
    if v_full > v_near + c_wrap / 2 then
        v_full := v_full - c_wrap;
    elsif v_full < v_near - c_wrap / 2 then
        v_full := v_full + c_wrap;
    end if;
    return v_full::text::xid8;
end;
$$;


ALTER FUNCTION app.widen_xid(p_xid xid, p_near xid8) OWNER TO postgres;

--
-- Name: write_events(jsonb); Type: FUNCTION; Schema: app; Owner: postgres
--

CREATE FUNCTION app.write_events(p_events jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_horizon xid8;
begin
    if p_events is null or pg_catalog.jsonb_array_length(p_events) = 0 then
        return;
    end if;
    v_horizon := app.begin_events();
    insert into app.events (horizon, topic, student_id, class_id, payload)
    select v_horizon, e.topic, e."studentId", e."classId", coalesce(e.payload, '{}'::jsonb)
    from pg_catalog.jsonb_to_recordset(p_events) as e (topic text, "studentId" uuid, "classId" uuid, payload jsonb);
end;
$$;


ALTER FUNCTION app.write_events(p_events jsonb) OWNER TO postgres;

--
-- Name: FUNCTION write_events(p_events jsonb); Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON FUNCTION app.write_events(p_events jsonb) IS 'Append events to the outbox in this transaction and wake the readers (one NOTIFY app_events per transaction).';


--
-- Name: archive_drop(date); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.archive_drop(p_month date) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_archive audit.archives;
    v_now record;
begin
    select * into v_archive from audit.archives where month = p_month for update;
    if v_archive.state is distinct from 'verified' then
        raise exception using
            errcode = '55000',
            message = format(
                'the archive of %s is %s, not verified: its table stays', p_month, coalesce(v_archive.state, 'unknown')
            );
    end if;
    if pg_catalog.to_regclass(format('audit_archive.%I', v_archive.partition_name)) is not null then
        select * into v_now from audit.archive_figures(p_month);
        if (v_now.rows, v_now.first_at, v_now.last_at)
            is distinct from (v_archive.rows, v_archive.first_at, v_archive.last_at)
        then
            raise exception using
                errcode = '55000',
                message = format(
                    'the table of %s holds %s rows from %s to %s, its archive %s from %s to %s: it stays',
                    p_month, v_now.rows, v_now.first_at, v_now.last_at,
                    v_archive.rows, v_archive.first_at, v_archive.last_at
                );
        end if;
    end if;
    execute format('drop table if exists audit_archive.%I', v_archive.partition_name);
    update audit.archives set state = 'dropped', dropped_at = now() where month = p_month;
end;
$$;


ALTER FUNCTION audit.archive_drop(p_month date) OWNER TO postgres;

--
-- Name: archive_figures(date); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.archive_figures(p_month date, OUT rows bigint, OUT first_at timestamp with time zone, OUT last_at timestamp with time zone) RETURNS record
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_table text;
begin
    select a.partition_name into v_table from audit.archives as a where a.month = p_month;
    if v_table is null then
        raise exception using errcode = 'P0002', message = format('no archive of %s is under way', p_month);
    end if;
    execute format('select count(*), min(timestamp), max(timestamp) from audit_archive.%I', v_table)
    into rows, first_at, last_at;
end;
$$;


ALTER FUNCTION audit.archive_figures(p_month date, OUT rows bigint, OUT first_at timestamp with time zone, OUT last_at timestamp with time zone) OWNER TO postgres;

--
-- Name: archive_verified(date); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.archive_verified(p_month date) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    update audit.archives set state = 'verified', verified_at = now() where month = p_month and state = 'written';
$$;


ALTER FUNCTION audit.archive_verified(p_month date) OWNER TO postgres;

--
-- Name: archive_written(date, text, text, bigint, bigint, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.archive_written(p_month date, p_location text, p_sha256 text, p_bytes bigint, p_rows bigint, p_first timestamp with time zone, p_last timestamp with time zone) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    update audit.archives
    set state = 'written', location = p_location, sha256 = p_sha256, bytes = p_bytes, rows = p_rows,
        first_at = p_first, last_at = p_last, written_at = now()
    where month = p_month and state in ('detached', 'written');
$$;


ALTER FUNCTION audit.archive_written(p_month date, p_location text, p_sha256 text, p_bytes bigint, p_rows bigint, p_first timestamp with time zone, p_last timestamp with time zone) OWNER TO postgres;

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
-- Name: detach_for_archive(bigint, interval, timestamp with time zone); Type: FUNCTION; Schema: audit; Owner: postgres
--

CREATE FUNCTION audit.detach_for_archive(p_threshold bigint DEFAULT 1000000, p_age interval DEFAULT '90 days'::interval, p_now timestamp with time zone DEFAULT now()) RETURNS SETOF date
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET lock_timeout TO '5s'
    AS $_$
declare
    c_lock constant bigint := 7245120395;
    v_rows bigint;
    v_part record;
begin
    if not pg_catalog.pg_try_advisory_xact_lock(c_lock) then
        raise notice 'audit archival skipped: another run is detaching';
        return;
    end if;
    select coalesce(sum(greatest(c.reltuples::bigint, s.n_live_tup, 0)), 0)
    into v_rows
    from pg_catalog.pg_inherits as i
    inner join pg_catalog.pg_class as c on i.inhrelid = c.oid
    left join pg_catalog.pg_stat_all_tables as s on i.inhrelid = s.relid
    where i.inhparent = 'audit.audit_logs'::regclass;
    -- Months an earlier run left unfinished (a worker that kept dying, a full disk) are handed
    -- to the worker again: every step is safe to repeat.
    perform pgmq.send('jobs_low', jsonb_build_object('task', 'audit_archive', 'month', a.month))
    from audit.archives as a
    where a.state <> 'dropped';
    if v_rows <= p_threshold then
        return;
    end if;
    for v_part in
        select
            c.relname,
            to_date(substring(c.relname from '\d{4}m\d{2}$'), 'YYYY"m"MM') as month
        from pg_catalog.pg_inherits as i
        inner join pg_catalog.pg_class as c on i.inhrelid = c.oid
        where i.inhparent = 'audit.audit_logs'::regclass
            and c.relname ~ '^audit_logs_y\d{4}m\d{2}$'
        order by c.relname
    loop
        continue when (v_part.month + interval '1 month') > p_now - p_age;
        execute format('alter table audit.audit_logs detach partition audit.%I', v_part.relname);
        execute format('alter table audit.%I set schema audit_archive', v_part.relname);
        -- The jobs worker's role (migration 20261130000900) copies it out.
        execute format('grant select on audit_archive.%I to jobs_worker', v_part.relname);
        insert into audit.archives (month, partition_name) values (v_part.month, v_part.relname);
        perform pgmq.send('jobs_low', jsonb_build_object('task', 'audit_archive', 'month', v_part.month));
        return next v_part.month;
    end loop;
end;
$_$;


ALTER FUNCTION audit.detach_for_archive(p_threshold bigint, p_age interval, p_now timestamp with time zone) OWNER TO postgres;

--
-- Name: FUNCTION detach_for_archive(p_threshold bigint, p_age interval, p_now timestamp with time zone); Type: COMMENT; Schema: audit; Owner: postgres
--

COMMENT ON FUNCTION audit.detach_for_archive(p_threshold bigint, p_age interval, p_now timestamp with time zone) IS 'Daily (pg_cron): past a million audit rows, detach months older than 90 days for the archival job.';


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
    SET search_path TO ''
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
    SET search_path TO ''
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

--
-- Name: class_statistics; Type: MATERIALIZED VIEW; Schema: analytics; Owner: postgres
--

CREATE MATERIALIZED VIEW analytics.class_statistics AS
 SELECT class_statistics_live.class_id,
    class_statistics_live.class_name,
    class_statistics_live.total_students,
    class_statistics_live.rated_students,
    class_statistics_live.average_attendance,
    class_statistics_live.median_attendance,
    class_statistics_live.highest_attendance,
    class_statistics_live.lowest_attendance,
    class_statistics_live.students_at_risk,
    class_statistics_live.last_calculated
   FROM analytics.class_statistics_live
  WITH NO DATA;


ALTER TABLE analytics.class_statistics OWNER TO postgres;

--
-- Name: pending_changes; Type: TABLE; Schema: analytics; Owner: postgres
--

CREATE TABLE analytics.pending_changes (
    xid xid8 NOT NULL,
    at timestamp with time zone DEFAULT statement_timestamp() NOT NULL
);


ALTER TABLE analytics.pending_changes OWNER TO postgres;

--
-- Name: TABLE pending_changes; Type: COMMENT; Schema: analytics; Owner: postgres
--

COMMENT ON TABLE analytics.pending_changes IS 'One row per writing transaction not yet covered by a refresh of the analytics views.';


--
-- Name: refresh_state; Type: TABLE; Schema: analytics; Owner: postgres
--

CREATE TABLE analytics.refresh_state (
    view_name text NOT NULL,
    last_started_at timestamp with time zone,
    last_finished_at timestamp with time zone,
    last_duration_ms numeric(12,3),
    CONSTRAINT refresh_state_view_name_check CHECK ((view_name = ANY (ARRAY['class_statistics'::text, 'student_rankings'::text])))
);


ALTER TABLE analytics.refresh_state OWNER TO postgres;

--
-- Name: student_rankings; Type: MATERIALIZED VIEW; Schema: analytics; Owner: postgres
--

CREATE MATERIALIZED VIEW analytics.student_rankings AS
 SELECT student_rankings_live.student_id,
    student_rankings_live.class_id,
    student_rankings_live.rank,
    student_rankings_live.total_students,
    student_rankings_live.attendance_rate,
    student_rankings_live.percentile
   FROM analytics.student_rankings_live
  WITH NO DATA;


ALTER TABLE analytics.student_rankings OWNER TO postgres;

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
-- Name: alert_settings; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.alert_settings (
    singleton boolean DEFAULT true NOT NULL,
    consecutive_absence_days integer DEFAULT 3 NOT NULL,
    CONSTRAINT alert_settings_absence_days_between_1_and_30 CHECK (((consecutive_absence_days >= 1) AND (consecutive_absence_days <= 30))),
    CONSTRAINT alert_settings_singleton_check CHECK (singleton)
);


ALTER TABLE app.alert_settings OWNER TO postgres;

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
-- Name: event_retention; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.event_retention (
    singleton boolean DEFAULT true NOT NULL,
    dropped_through_horizon xid8 DEFAULT '0'::xid8 NOT NULL,
    dropped_through_id bigint DEFAULT 0 NOT NULL,
    dropped_at timestamp with time zone,
    CONSTRAINT event_retention_singleton_check CHECK (singleton)
);


ALTER TABLE app.event_retention OWNER TO postgres;

--
-- Name: events; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.events (
    id bigint NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    horizon xid8 NOT NULL,
    topic text NOT NULL,
    student_id uuid,
    class_id uuid,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT events_topic_check CHECK ((topic = ANY (ARRAY['attendance_update'::text, 'class_figures'::text, 'reset'::text, 'notification'::text, 'inbox_changed'::text])))
)
PARTITION BY RANGE (at);


ALTER TABLE app.events OWNER TO postgres;

--
-- Name: TABLE events; Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON TABLE app.events IS 'The events outbox, read in (horizon, id) order; daily partitions dropped after app.event_retention().';


--
-- Name: COLUMN events.xid; Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON COLUMN app.events.xid IS 'The writing transaction.';


--
-- Name: COLUMN events.horizon; Type: COMMENT; Schema: app; Owner: postgres
--

COMMENT ON COLUMN app.events.horizon IS 'The larger of the writer''s transaction id and its snapshot''s xmax when it wrote: the first half of the position.';


--
-- Name: events_20261129; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.events_20261129 (
    id bigint NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    horizon xid8 NOT NULL,
    topic text NOT NULL,
    student_id uuid,
    class_id uuid,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT events_topic_check CHECK ((topic = ANY (ARRAY['attendance_update'::text, 'class_figures'::text, 'reset'::text, 'notification'::text, 'inbox_changed'::text])))
);


ALTER TABLE app.events_20261129 OWNER TO postgres;

--
-- Name: events_20261130; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.events_20261130 (
    id bigint NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    horizon xid8 NOT NULL,
    topic text NOT NULL,
    student_id uuid,
    class_id uuid,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT events_topic_check CHECK ((topic = ANY (ARRAY['attendance_update'::text, 'class_figures'::text, 'reset'::text, 'notification'::text, 'inbox_changed'::text])))
);


ALTER TABLE app.events_20261130 OWNER TO postgres;

--
-- Name: events_20261201; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.events_20261201 (
    id bigint NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    horizon xid8 NOT NULL,
    topic text NOT NULL,
    student_id uuid,
    class_id uuid,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT events_topic_check CHECK ((topic = ANY (ARRAY['attendance_update'::text, 'class_figures'::text, 'reset'::text, 'notification'::text, 'inbox_changed'::text])))
);


ALTER TABLE app.events_20261201 OWNER TO postgres;

--
-- Name: events_20261202; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.events_20261202 (
    id bigint NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    horizon xid8 NOT NULL,
    topic text NOT NULL,
    student_id uuid,
    class_id uuid,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT events_topic_check CHECK ((topic = ANY (ARRAY['attendance_update'::text, 'class_figures'::text, 'reset'::text, 'notification'::text, 'inbox_changed'::text])))
);


ALTER TABLE app.events_20261202 OWNER TO postgres;

--
-- Name: events_default; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.events_default (
    id bigint NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    horizon xid8 NOT NULL,
    topic text NOT NULL,
    student_id uuid,
    class_id uuid,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT events_topic_check CHECK ((topic = ANY (ARRAY['attendance_update'::text, 'class_figures'::text, 'reset'::text, 'notification'::text, 'inbox_changed'::text])))
);


ALTER TABLE app.events_default OWNER TO postgres;

--
-- Name: events_id_seq; Type: SEQUENCE; Schema: app; Owner: postgres
--

ALTER TABLE app.events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: notification_deliveries; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.notification_deliveries (
    id bigint NOT NULL,
    notification_id uuid NOT NULL,
    channel text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    resends integer DEFAULT 0 NOT NULL,
    last_error text,
    message_id text,
    recipient text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    CONSTRAINT notification_deliveries_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT notification_deliveries_channel_check CHECK ((channel = ANY (ARRAY['in_app'::text, 'email'::text]))),
    CONSTRAINT notification_deliveries_email_has_message_id CHECK (((channel <> 'email'::text) OR (message_id IS NOT NULL))),
    CONSTRAINT notification_deliveries_resends_check CHECK ((resends >= 0)),
    CONSTRAINT notification_deliveries_sent_at_when_sent CHECK (((status = 'sent'::text) = (sent_at IS NOT NULL))),
    CONSTRAINT notification_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sending'::text, 'sent'::text, 'failed'::text, 'dead'::text])))
);


ALTER TABLE app.notification_deliveries OWNER TO postgres;

--
-- Name: notification_deliveries_id_seq; Type: SEQUENCE; Schema: app; Owner: postgres
--

ALTER TABLE app.notification_deliveries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app.notification_deliveries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: notifications; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.notifications (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    student_id uuid NOT NULL,
    type text NOT NULL,
    title text NOT NULL,
    message text NOT NULL,
    severity text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    read boolean DEFAULT false NOT NULL,
    read_at timestamp with time zone,
    action_url text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    in_app boolean NOT NULL,
    CONSTRAINT notifications_action_url_check CHECK ((length(action_url) <= 2000)),
    CONSTRAINT notifications_message_check CHECK (((length(message) >= 1) AND (length(message) <= 4000))),
    CONSTRAINT notifications_read_at_when_read CHECK ((read = (read_at IS NOT NULL))),
    CONSTRAINT notifications_severity_check CHECK ((severity = ANY (ARRAY['info'::text, 'warning'::text, 'error'::text, 'success'::text]))),
    CONSTRAINT notifications_title_check CHECK (((length(title) >= 1) AND (length(title) <= 255))),
    CONSTRAINT notifications_type_check CHECK ((type = ANY (ARRAY['attendance_warning'::text, 'mahroom_alert'::text, 'tasdiq_alert'::text, 'consecutive_absence'::text, 'file_approved'::text, 'file_rejected'::text, 'system_announcement'::text])))
);


ALTER TABLE app.notifications OWNER TO postgres;

--
-- Name: student_alert_state; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.student_alert_state (
    student_id uuid NOT NULL,
    level text,
    absence_streak boolean DEFAULT false NOT NULL,
    changed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT student_alert_state_level_check CHECK ((level = ANY (ARRAY['tasdiq'::text, 'warning'::text, 'mahroom'::text])))
);


ALTER TABLE app.student_alert_state OWNER TO postgres;

--
-- Name: student_attendance_daily; Type: TABLE; Schema: app; Owner: postgres
--

CREATE TABLE app.student_attendance_daily (
    student_id uuid NOT NULL,
    date date NOT NULL,
    present integer NOT NULL,
    marked integer NOT NULL,
    records integer NOT NULL,
    CONSTRAINT student_attendance_daily_marked_check CHECK ((marked >= 0)),
    CONSTRAINT student_attendance_daily_present_check CHECK ((present >= 0)),
    CONSTRAINT student_attendance_daily_records_check CHECK ((records >= 0))
);


ALTER TABLE app.student_attendance_daily OWNER TO postgres;

--
-- Name: archives; Type: TABLE; Schema: audit; Owner: postgres
--

CREATE TABLE audit.archives (
    month date NOT NULL,
    partition_name text NOT NULL,
    state text DEFAULT 'detached'::text NOT NULL,
    rows bigint,
    first_at timestamp with time zone,
    last_at timestamp with time zone,
    location text,
    sha256 text,
    bytes bigint,
    detached_at timestamp with time zone DEFAULT now() NOT NULL,
    written_at timestamp with time zone,
    verified_at timestamp with time zone,
    dropped_at timestamp with time zone,
    CONSTRAINT archives_bytes_check CHECK ((bytes >= 0)),
    CONSTRAINT archives_location_check CHECK ((length(location) <= 1000)),
    CONSTRAINT archives_month_check CHECK ((month = date_trunc('month'::text, (month)::timestamp with time zone))),
    CONSTRAINT archives_rows_check CHECK ((rows >= 0)),
    CONSTRAINT archives_sha256_check CHECK ((sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT archives_state_check CHECK ((state = ANY (ARRAY['detached'::text, 'written'::text, 'verified'::text, 'dropped'::text]))),
    CONSTRAINT archives_written_has_file CHECK (((state = 'detached'::text) OR ((location IS NOT NULL) AND (sha256 IS NOT NULL) AND (rows IS NOT NULL))))
);


ALTER TABLE audit.archives OWNER TO postgres;

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
-- Name: events_20261129; Type: TABLE ATTACH; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events ATTACH PARTITION app.events_20261129 FOR VALUES FROM ('2026-11-29 00:00:00+00') TO ('2026-11-30 00:00:00+00');


--
-- Name: events_20261130; Type: TABLE ATTACH; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events ATTACH PARTITION app.events_20261130 FOR VALUES FROM ('2026-11-30 00:00:00+00') TO ('2026-12-01 00:00:00+00');


--
-- Name: events_20261201; Type: TABLE ATTACH; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events ATTACH PARTITION app.events_20261201 FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2026-12-02 00:00:00+00');


--
-- Name: events_20261202; Type: TABLE ATTACH; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events ATTACH PARTITION app.events_20261202 FOR VALUES FROM ('2026-12-02 00:00:00+00') TO ('2026-12-03 00:00:00+00');


--
-- Name: events_default; Type: TABLE ATTACH; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events ATTACH PARTITION app.events_default DEFAULT;


--
-- Name: audit_logs_default; Type: TABLE ATTACH; Schema: audit; Owner: postgres
--

ALTER TABLE ONLY audit.audit_logs ATTACH PARTITION audit.audit_logs_default DEFAULT;


--
-- Name: pending_changes pending_changes_pkey; Type: CONSTRAINT; Schema: analytics; Owner: postgres
--

ALTER TABLE ONLY analytics.pending_changes
    ADD CONSTRAINT pending_changes_pkey PRIMARY KEY (xid);


--
-- Name: refresh_state refresh_state_pkey; Type: CONSTRAINT; Schema: analytics; Owner: postgres
--

ALTER TABLE ONLY analytics.refresh_state
    ADD CONSTRAINT refresh_state_pkey PRIMARY KEY (view_name);


--
-- Name: alert_settings alert_settings_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.alert_settings
    ADD CONSTRAINT alert_settings_pkey PRIMARY KEY (singleton);


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
-- Name: attendance_thresholds attendance_thresholds_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.attendance_thresholds
    ADD CONSTRAINT attendance_thresholds_pkey PRIMARY KEY (level);


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
-- Name: event_retention event_retention_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.event_retention
    ADD CONSTRAINT event_retention_pkey PRIMARY KEY (singleton);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (horizon, id, at);


--
-- Name: events_20261129 events_20261129_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events_20261129
    ADD CONSTRAINT events_20261129_pkey PRIMARY KEY (horizon, id, at);


--
-- Name: events_20261130 events_20261130_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events_20261130
    ADD CONSTRAINT events_20261130_pkey PRIMARY KEY (horizon, id, at);


--
-- Name: events_20261201 events_20261201_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events_20261201
    ADD CONSTRAINT events_20261201_pkey PRIMARY KEY (horizon, id, at);


--
-- Name: events_20261202 events_20261202_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events_20261202
    ADD CONSTRAINT events_20261202_pkey PRIMARY KEY (horizon, id, at);


--
-- Name: events_default events_default_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.events_default
    ADD CONSTRAINT events_default_pkey PRIMARY KEY (horizon, id, at);


--
-- Name: medical_certificates medical_certificates_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.medical_certificates
    ADD CONSTRAINT medical_certificates_pkey PRIMARY KEY (id);


--
-- Name: medical_certificates medical_certificates_stored_name_key; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.medical_certificates
    ADD CONSTRAINT medical_certificates_stored_name_key UNIQUE (stored_name);


--
-- Name: notification_deliveries notification_deliveries_one_per_channel; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.notification_deliveries
    ADD CONSTRAINT notification_deliveries_one_per_channel UNIQUE (notification_id, channel);


--
-- Name: notification_deliveries notification_deliveries_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.notification_deliveries
    ADD CONSTRAINT notification_deliveries_pkey PRIMARY KEY (id);


--
-- Name: notification_preferences notification_preferences_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.notification_preferences
    ADD CONSTRAINT notification_preferences_pkey PRIMARY KEY (student_id);


--
-- Name: notifications notifications_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.notifications
    ADD CONSTRAINT notifications_pkey PRIMARY KEY (id);


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
-- Name: student_alert_state student_alert_state_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.student_alert_state
    ADD CONSTRAINT student_alert_state_pkey PRIMARY KEY (student_id);


--
-- Name: student_attendance_daily student_attendance_daily_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.student_attendance_daily
    ADD CONSTRAINT student_attendance_daily_pkey PRIMARY KEY (student_id, date);


--
-- Name: student_attendance_summary student_attendance_summary_pkey; Type: CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.student_attendance_summary
    ADD CONSTRAINT student_attendance_summary_pkey PRIMARY KEY (student_id);


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
-- Name: archives archives_partition_name_key; Type: CONSTRAINT; Schema: audit; Owner: postgres
--

ALTER TABLE ONLY audit.archives
    ADD CONSTRAINT archives_partition_name_key UNIQUE (partition_name);


--
-- Name: archives archives_pkey; Type: CONSTRAINT; Schema: audit; Owner: postgres
--

ALTER TABLE ONLY audit.archives
    ADD CONSTRAINT archives_pkey PRIMARY KEY (month);


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
-- Name: class_statistics_class_id_key; Type: INDEX; Schema: analytics; Owner: postgres
--

CREATE UNIQUE INDEX class_statistics_class_id_key ON analytics.class_statistics USING btree (class_id);


--
-- Name: student_rankings_class_rank_idx; Type: INDEX; Schema: analytics; Owner: postgres
--

CREATE INDEX student_rankings_class_rank_idx ON analytics.student_rankings USING btree (class_id, rank);


--
-- Name: student_rankings_student_id_key; Type: INDEX; Schema: analytics; Owner: postgres
--

CREATE UNIQUE INDEX student_rankings_student_id_key ON analytics.student_rankings USING btree (student_id);


--
-- Name: attendance_records_class_day_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX attendance_records_class_day_idx ON app.attendance_records USING btree (class_id, date, period);


--
-- Name: class_teachers_teacher_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX class_teachers_teacher_id_idx ON app.class_teachers USING btree (teacher_id, class_id);


--
-- Name: events_class_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_class_idx ON ONLY app.events USING btree (class_id, horizon, id) WHERE (class_id IS NOT NULL);


--
-- Name: events_20261129_class_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_20261129_class_id_horizon_id_idx ON app.events_20261129 USING btree (class_id, horizon, id) WHERE (class_id IS NOT NULL);


--
-- Name: events_student_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_student_idx ON ONLY app.events USING btree (student_id, horizon, id) WHERE (student_id IS NOT NULL);


--
-- Name: events_20261129_student_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_20261129_student_id_horizon_id_idx ON app.events_20261129 USING btree (student_id, horizon, id) WHERE (student_id IS NOT NULL);


--
-- Name: events_20261130_class_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_20261130_class_id_horizon_id_idx ON app.events_20261130 USING btree (class_id, horizon, id) WHERE (class_id IS NOT NULL);


--
-- Name: events_20261130_student_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_20261130_student_id_horizon_id_idx ON app.events_20261130 USING btree (student_id, horizon, id) WHERE (student_id IS NOT NULL);


--
-- Name: events_20261201_class_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_20261201_class_id_horizon_id_idx ON app.events_20261201 USING btree (class_id, horizon, id) WHERE (class_id IS NOT NULL);


--
-- Name: events_20261201_student_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_20261201_student_id_horizon_id_idx ON app.events_20261201 USING btree (student_id, horizon, id) WHERE (student_id IS NOT NULL);


--
-- Name: events_20261202_class_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_20261202_class_id_horizon_id_idx ON app.events_20261202 USING btree (class_id, horizon, id) WHERE (class_id IS NOT NULL);


--
-- Name: events_20261202_student_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_20261202_student_id_horizon_id_idx ON app.events_20261202 USING btree (student_id, horizon, id) WHERE (student_id IS NOT NULL);


--
-- Name: events_default_class_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_default_class_id_horizon_id_idx ON app.events_default USING btree (class_id, horizon, id) WHERE (class_id IS NOT NULL);


--
-- Name: events_default_student_id_horizon_id_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX events_default_student_id_horizon_id_idx ON app.events_default USING btree (student_id, horizon, id) WHERE (student_id IS NOT NULL);


--
-- Name: medical_certificates_open_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX medical_certificates_open_idx ON app.medical_certificates USING btree (status) WHERE (status = ANY (ARRAY['pending'::text, 'scanning'::text]));


--
-- Name: medical_certificates_student_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX medical_certificates_student_idx ON app.medical_certificates USING btree (student_id, uploaded_at DESC, id DESC);


--
-- Name: notification_deliveries_open_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX notification_deliveries_open_idx ON app.notification_deliveries USING btree (status, created_at) WHERE (status <> ALL (ARRAY['sent'::text, 'dead'::text]));


--
-- Name: notifications_student_page_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX notifications_student_page_idx ON app.notifications USING btree (student_id, created_at DESC, id DESC) WHERE in_app;


--
-- Name: notifications_student_unread_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX notifications_student_unread_idx ON app.notifications USING btree (student_id, created_at DESC, id DESC) WHERE (in_app AND (NOT read));


--
-- Name: student_attendance_daily_marked_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX student_attendance_daily_marked_idx ON app.student_attendance_daily USING btree (student_id, date DESC) WHERE (marked > 0);


--
-- Name: student_attendance_daily_no_present_idx; Type: INDEX; Schema: app; Owner: postgres
--

CREATE INDEX student_attendance_daily_no_present_idx ON app.student_attendance_daily USING btree (student_id, date) WHERE ((marked > 0) AND (present = 0));


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
-- Name: events_20261129_class_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_class_idx ATTACH PARTITION app.events_20261129_class_id_horizon_id_idx;


--
-- Name: events_20261129_pkey; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_pkey ATTACH PARTITION app.events_20261129_pkey;


--
-- Name: events_20261129_student_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_student_idx ATTACH PARTITION app.events_20261129_student_id_horizon_id_idx;


--
-- Name: events_20261130_class_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_class_idx ATTACH PARTITION app.events_20261130_class_id_horizon_id_idx;


--
-- Name: events_20261130_pkey; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_pkey ATTACH PARTITION app.events_20261130_pkey;


--
-- Name: events_20261130_student_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_student_idx ATTACH PARTITION app.events_20261130_student_id_horizon_id_idx;


--
-- Name: events_20261201_class_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_class_idx ATTACH PARTITION app.events_20261201_class_id_horizon_id_idx;


--
-- Name: events_20261201_pkey; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_pkey ATTACH PARTITION app.events_20261201_pkey;


--
-- Name: events_20261201_student_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_student_idx ATTACH PARTITION app.events_20261201_student_id_horizon_id_idx;


--
-- Name: events_20261202_class_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_class_idx ATTACH PARTITION app.events_20261202_class_id_horizon_id_idx;


--
-- Name: events_20261202_pkey; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_pkey ATTACH PARTITION app.events_20261202_pkey;


--
-- Name: events_20261202_student_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_student_idx ATTACH PARTITION app.events_20261202_student_id_horizon_id_idx;


--
-- Name: events_default_class_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_class_idx ATTACH PARTITION app.events_default_class_id_horizon_id_idx;


--
-- Name: events_default_pkey; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_pkey ATTACH PARTITION app.events_default_pkey;


--
-- Name: events_default_student_id_horizon_id_idx; Type: INDEX ATTACH; Schema: app; Owner: postgres
--

ALTER INDEX app.events_student_idx ATTACH PARTITION app.events_default_student_id_horizon_id_idx;


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
-- Name: students _100_create_summary; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _100_create_summary AFTER INSERT ON app.students REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_students__create_summary();


--
-- Name: attendance_thresholds _100_levels_nested; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE CONSTRAINT TRIGGER _100_levels_nested AFTER INSERT OR DELETE OR UPDATE ON app.attendance_thresholds DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION app.tg_attendance_thresholds__check_order();


--
-- Name: attendance_thresholds _100_mark_analytics_dirty; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _100_mark_analytics_dirty AFTER INSERT OR DELETE OR UPDATE ON app.attendance_thresholds FOR EACH STATEMENT EXECUTE FUNCTION app.tg__mark_analytics_dirty();


--
-- Name: classes _100_mark_analytics_dirty; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _100_mark_analytics_dirty AFTER INSERT OR DELETE OR UPDATE ON app.classes FOR EACH STATEMENT EXECUTE FUNCTION app.tg__mark_analytics_dirty();


--
-- Name: students _100_mark_analytics_dirty; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _100_mark_analytics_dirty AFTER DELETE OR UPDATE OF class_id ON app.students FOR EACH STATEMENT EXECUTE FUNCTION app.tg__mark_analytics_dirty();


--
-- Name: attendance_records _100_summarise_delete; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _100_summarise_delete AFTER DELETE ON app.attendance_records REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__summarise();


--
-- Name: attendance_records _100_summarise_insert; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _100_summarise_insert AFTER INSERT ON app.attendance_records REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__summarise();


--
-- Name: attendance_records _100_summarise_truncate; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _100_summarise_truncate AFTER TRUNCATE ON app.attendance_records FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__summarise_truncate();


--
-- Name: attendance_records _100_summarise_update; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _100_summarise_update AFTER UPDATE ON app.attendance_records REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__summarise();


--
-- Name: students _110_create_alert_rows; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _110_create_alert_rows AFTER INSERT ON app.students REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_students__create_alert_rows();


--
-- Name: attendance_records _200_events_delete; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _200_events_delete AFTER DELETE ON app.attendance_records REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__events();


--
-- Name: attendance_records _200_events_insert; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _200_events_insert AFTER INSERT ON app.attendance_records REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__events();


--
-- Name: attendance_records _200_events_truncate; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _200_events_truncate AFTER TRUNCATE ON app.attendance_records FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__events_truncate();


--
-- Name: attendance_records _200_events_update; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _200_events_update AFTER UPDATE ON app.attendance_records REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__events();


--
-- Name: attendance_records _300_alerts_delete; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _300_alerts_delete AFTER DELETE ON app.attendance_records REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__alerts();


--
-- Name: attendance_records _300_alerts_insert; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _300_alerts_insert AFTER INSERT ON app.attendance_records REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__alerts();


--
-- Name: attendance_records _300_alerts_truncate; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _300_alerts_truncate AFTER TRUNCATE ON app.attendance_records FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__alerts_truncate();


--
-- Name: attendance_records _300_alerts_update; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER _300_alerts_update AFTER UPDATE ON app.attendance_records REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.tg_attendance_records__alerts();


--
-- Name: medical_certificates medical_certificates_files_deleted; Type: TRIGGER; Schema: app; Owner: postgres
--

CREATE TRIGGER medical_certificates_files_deleted AFTER DELETE ON app.medical_certificates REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION app.queue_certificate_file_deletes();


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
-- Name: medical_certificates medical_certificates_reviewed_by_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.medical_certificates
    ADD CONSTRAINT medical_certificates_reviewed_by_fkey FOREIGN KEY (reviewed_by) REFERENCES app.staff(id) ON DELETE SET NULL;


--
-- Name: medical_certificates medical_certificates_student_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.medical_certificates
    ADD CONSTRAINT medical_certificates_student_id_fkey FOREIGN KEY (student_id) REFERENCES app.students(id) ON DELETE CASCADE;


--
-- Name: notification_deliveries notification_deliveries_notification_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.notification_deliveries
    ADD CONSTRAINT notification_deliveries_notification_id_fkey FOREIGN KEY (notification_id) REFERENCES app.notifications(id) ON DELETE CASCADE;


--
-- Name: notification_preferences notification_preferences_student_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.notification_preferences
    ADD CONSTRAINT notification_preferences_student_id_fkey FOREIGN KEY (student_id) REFERENCES app.students(id) ON DELETE CASCADE;


--
-- Name: notifications notifications_student_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.notifications
    ADD CONSTRAINT notifications_student_id_fkey FOREIGN KEY (student_id) REFERENCES app.students(id) ON DELETE CASCADE;


--
-- Name: student_alert_state student_alert_state_student_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.student_alert_state
    ADD CONSTRAINT student_alert_state_student_id_fkey FOREIGN KEY (student_id) REFERENCES app.students(id) ON DELETE CASCADE;


--
-- Name: student_attendance_daily student_attendance_daily_student_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.student_attendance_daily
    ADD CONSTRAINT student_attendance_daily_student_id_fkey FOREIGN KEY (student_id) REFERENCES app.students(id) ON DELETE CASCADE;


--
-- Name: student_attendance_summary student_attendance_summary_student_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.student_attendance_summary
    ADD CONSTRAINT student_attendance_summary_student_id_fkey FOREIGN KEY (student_id) REFERENCES app.students(id) ON DELETE CASCADE;


--
-- Name: students students_class_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: postgres
--

ALTER TABLE ONLY app.students
    ADD CONSTRAINT students_class_id_fkey FOREIGN KEY (class_id) REFERENCES app.classes(id);


--
-- Name: pending_changes; Type: ROW SECURITY; Schema: analytics; Owner: postgres
--

ALTER TABLE analytics.pending_changes ENABLE ROW LEVEL SECURITY;

--
-- Name: refresh_state; Type: ROW SECURITY; Schema: analytics; Owner: postgres
--

ALTER TABLE analytics.refresh_state ENABLE ROW LEVEL SECURITY;

--
-- Name: alert_settings Everyone signed in reads the alert settings; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Everyone signed in reads the alert settings" ON app.alert_settings FOR SELECT TO authenticated USING (true);


--
-- Name: attendance_thresholds Everyone signed in reads the thresholds; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Everyone signed in reads the thresholds" ON app.attendance_thresholds FOR SELECT TO authenticated USING (true);


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
-- Name: medical_certificates Students read their certificates, teachers their classes', admi; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Students read their certificates, teachers their classes', admi" ON app.medical_certificates FOR SELECT TO authenticated USING (((student_id = ( SELECT auth.uid() AS uid)) OR (student_id IN ( SELECT s.id
   FROM app.students s
  WHERE (s.class_id IN ( SELECT app.taught_class_ids() AS taught_class_ids)))) OR ( SELECT app.is_admin() AS is_admin)));


--
-- Name: student_attendance_daily Students read their days and teachers their classes'; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Students read their days and teachers their classes'" ON app.student_attendance_daily FOR SELECT TO authenticated USING (((student_id = ( SELECT auth.uid() AS uid)) OR (student_id IN ( SELECT s.id
   FROM app.students s
  WHERE (s.class_id IN ( SELECT app.taught_class_ids() AS taught_class_ids)))) OR ( SELECT app.is_admin() AS is_admin)));


--
-- Name: student_alert_state Students read their own alert state; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Students read their own alert state" ON app.student_alert_state FOR SELECT TO authenticated USING ((student_id = ( SELECT auth.uid() AS uid)));


--
-- Name: notifications Students read their own in-app notifications; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Students read their own in-app notifications" ON app.notifications FOR SELECT TO authenticated USING (((student_id = ( SELECT auth.uid() AS uid)) AND in_app));


--
-- Name: notification_preferences Students read their own preferences; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Students read their own preferences" ON app.notification_preferences FOR SELECT TO authenticated USING ((student_id = ( SELECT auth.uid() AS uid)));


--
-- Name: student_attendance_summary Students read their summary and teachers their classes'; Type: POLICY; Schema: app; Owner: postgres
--

CREATE POLICY "Students read their summary and teachers their classes'" ON app.student_attendance_summary FOR SELECT TO authenticated USING (((student_id = ( SELECT auth.uid() AS uid)) OR (student_id IN ( SELECT s.id
   FROM app.students s
  WHERE (s.class_id IN ( SELECT app.taught_class_ids() AS taught_class_ids)))) OR ( SELECT app.is_admin() AS is_admin)));


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
-- Name: alert_settings; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.alert_settings ENABLE ROW LEVEL SECURITY;

--
-- Name: attendance_records; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.attendance_records ENABLE ROW LEVEL SECURITY;

--
-- Name: attendance_thresholds; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.attendance_thresholds ENABLE ROW LEVEL SECURITY;

--
-- Name: class_teachers; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.class_teachers ENABLE ROW LEVEL SECURITY;

--
-- Name: classes; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.classes ENABLE ROW LEVEL SECURITY;

--
-- Name: event_retention; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.event_retention ENABLE ROW LEVEL SECURITY;

--
-- Name: events; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.events ENABLE ROW LEVEL SECURITY;

--
-- Name: medical_certificates; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.medical_certificates ENABLE ROW LEVEL SECURITY;

--
-- Name: notification_deliveries; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.notification_deliveries ENABLE ROW LEVEL SECURITY;

--
-- Name: notification_preferences; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.notification_preferences ENABLE ROW LEVEL SECURITY;

--
-- Name: notifications; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.notifications ENABLE ROW LEVEL SECURITY;

--
-- Name: staff; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.staff ENABLE ROW LEVEL SECURITY;

--
-- Name: student_alert_state; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.student_alert_state ENABLE ROW LEVEL SECURITY;

--
-- Name: student_attendance_daily; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.student_attendance_daily ENABLE ROW LEVEL SECURITY;

--
-- Name: student_attendance_summary; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.student_attendance_summary ENABLE ROW LEVEL SECURITY;

--
-- Name: students; Type: ROW SECURITY; Schema: app; Owner: postgres
--

ALTER TABLE app.students ENABLE ROW LEVEL SECURITY;

--
-- Name: archives The jobs worker reads the archives it works on; Type: POLICY; Schema: audit; Owner: postgres
--

CREATE POLICY "The jobs worker reads the archives it works on" ON audit.archives FOR SELECT TO jobs_worker USING (true);


--
-- Name: archives; Type: ROW SECURITY; Schema: audit; Owner: postgres
--

ALTER TABLE audit.archives ENABLE ROW LEVEL SECURITY;

--
-- Name: SCHEMA analytics; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA analytics TO service_role;


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
GRANT USAGE ON SCHEMA app TO authenticator;
GRANT USAGE ON SCHEMA app TO jobs_worker;


--
-- Name: SCHEMA audit; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA audit TO authenticator;
GRANT USAGE ON SCHEMA audit TO service_role;
GRANT USAGE ON SCHEMA audit TO jobs_worker;


--
-- Name: SCHEMA audit_archive; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA audit_archive TO jobs_worker;


--
-- Name: SCHEMA auth; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA auth TO anon;
GRANT USAGE ON SCHEMA auth TO authenticated;
GRANT USAGE ON SCHEMA auth TO service_role;


--
-- Name: FUNCTION class_digests(); Type: ACL; Schema: analytics; Owner: postgres
--

REVOKE ALL ON FUNCTION analytics.class_digests() FROM PUBLIC;


--
-- Name: TABLE attendance_thresholds; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.attendance_thresholds TO authenticated;
GRANT SELECT ON TABLE app.attendance_thresholds TO service_role;


--
-- Name: TABLE classes; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.classes TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.classes TO service_role;


--
-- Name: TABLE student_attendance_summary; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.student_attendance_summary TO authenticated;
GRANT SELECT ON TABLE app.student_attendance_summary TO service_role;


--
-- Name: TABLE students; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.students TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.students TO service_role;


--
-- Name: FUNCTION class_figures(p_class_id uuid); Type: ACL; Schema: analytics; Owner: postgres
--

REVOKE ALL ON FUNCTION analytics.class_figures(p_class_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION class_rankings(p_class_id uuid); Type: ACL; Schema: analytics; Owner: postgres
--

REVOKE ALL ON FUNCTION analytics.class_rankings(p_class_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION freshness(); Type: ACL; Schema: analytics; Owner: postgres
--

REVOKE ALL ON FUNCTION analytics.freshness() FROM PUBLIC;


--
-- Name: FUNCTION freshness_bound(); Type: ACL; Schema: analytics; Owner: postgres
--

REVOKE ALL ON FUNCTION analytics.freshness_bound() FROM PUBLIC;


--
-- Name: FUNCTION is_populated(p_view regclass); Type: ACL; Schema: analytics; Owner: postgres
--

REVOKE ALL ON FUNCTION analytics.is_populated(p_view regclass) FROM PUBLIC;


--
-- Name: FUNCTION mark_dirty(); Type: ACL; Schema: analytics; Owner: postgres
--

REVOKE ALL ON FUNCTION analytics.mark_dirty() FROM PUBLIC;


--
-- Name: FUNCTION refresh(p_only_if_dirty boolean); Type: ACL; Schema: analytics; Owner: postgres
--

REVOKE ALL ON FUNCTION analytics.refresh(p_only_if_dirty boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION analytics.refresh(p_only_if_dirty boolean) TO service_role;


--
-- Name: FUNCTION refresh_if_dirty(); Type: ACL; Schema: analytics; Owner: postgres
--

REVOKE ALL ON FUNCTION analytics.refresh_if_dirty() FROM PUBLIC;
GRANT ALL ON FUNCTION analytics.refresh_if_dirty() TO service_role;


--
-- Name: FUNCTION audit_archives(); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.audit_archives() FROM PUBLIC;
GRANT ALL ON FUNCTION api.audit_archives() TO authenticated;


--
-- Name: FUNCTION audit_logs(user_id uuid, action text, from_time timestamp with time zone, to_time timestamp with time zone, success boolean, page_limit integer, page_offset integer); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.audit_logs(user_id uuid, action text, from_time timestamp with time zone, to_time timestamp with time zone, success boolean, page_limit integer, page_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.audit_logs(user_id uuid, action text, from_time timestamp with time zone, to_time timestamp with time zone, success boolean, page_limit integer, page_offset integer) TO authenticated;


--
-- Name: FUNCTION certificate(file_id uuid); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.certificate(file_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION api.certificate(file_id uuid) TO authenticated;


--
-- Name: FUNCTION certificates(student_id uuid, lim integer, skip integer); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.certificates(student_id uuid, lim integer, skip integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.certificates(student_id uuid, lim integer, skip integer) TO authenticated;


--
-- Name: FUNCTION class_rankings(class_id uuid); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.class_rankings(class_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION api.class_rankings(class_id uuid) TO authenticated;


--
-- Name: FUNCTION class_statistics(); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.class_statistics() FROM PUBLIC;
GRANT ALL ON FUNCTION api.class_statistics() TO authenticated;


--
-- Name: FUNCTION class_statistics(class_id uuid); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.class_statistics(class_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION api.class_statistics(class_id uuid) TO authenticated;


--
-- Name: FUNCTION delete_certificate(file_id uuid); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.delete_certificate(file_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION api.delete_certificate(file_id uuid) TO authenticated;


--
-- Name: FUNCTION event_stream(); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.event_stream() FROM PUBLIC;
GRANT ALL ON FUNCTION api.event_stream() TO authenticated;
GRANT ALL ON FUNCTION api.event_stream() TO service_role;


--
-- Name: FUNCTION events(after text, lim integer, until text); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.events(after text, lim integer, until text) FROM PUBLIC;
GRANT ALL ON FUNCTION api.events(after text, lim integer, until text) TO authenticated;
GRANT ALL ON FUNCTION api.events(after text, lim integer, until text) TO service_role;


--
-- Name: FUNCTION mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION api.mark_attendance(class_id uuid, date date, period integer, subject text, marks jsonb) TO authenticated;


--
-- Name: FUNCTION mark_notifications_read(ids uuid[], every boolean); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.mark_notifications_read(ids uuid[], every boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION api.mark_notifications_read(ids uuid[], every boolean) TO authenticated;


--
-- Name: FUNCTION notification_preferences(); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.notification_preferences() FROM PUBLIC;
GRANT ALL ON FUNCTION api.notification_preferences() TO authenticated;


--
-- Name: FUNCTION notifications(unread boolean, lim integer, cursor text); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.notifications(unread boolean, lim integer, cursor text) FROM PUBLIC;
GRANT ALL ON FUNCTION api.notifications(unread boolean, lim integer, cursor text) TO authenticated;


--
-- Name: FUNCTION review_certificate(file_id uuid, decision text, reason text); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.review_certificate(file_id uuid, decision text, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION api.review_certificate(file_id uuid, decision text, reason text) TO authenticated;


--
-- Name: FUNCTION student_dashboard(); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.student_dashboard() FROM PUBLIC;
GRANT ALL ON FUNCTION api.student_dashboard() TO authenticated;


--
-- Name: FUNCTION student_dashboard(student_id uuid); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.student_dashboard(student_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION api.student_dashboard(student_id uuid) TO authenticated;


--
-- Name: FUNCTION student_ranking(); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.student_ranking() FROM PUBLIC;
GRANT ALL ON FUNCTION api.student_ranking() TO authenticated;


--
-- Name: FUNCTION student_ranking(student_id uuid); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.student_ranking(student_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION api.student_ranking(student_id uuid) TO authenticated;


--
-- Name: FUNCTION update_notification_preferences(prefs jsonb); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.update_notification_preferences(prefs jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION api.update_notification_preferences(prefs jsonb) TO authenticated;


--
-- Name: FUNCTION weekly_attendance(week text); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.weekly_attendance(week text) FROM PUBLIC;
GRANT ALL ON FUNCTION api.weekly_attendance(week text) TO authenticated;


--
-- Name: FUNCTION weekly_attendance(week text, student_id uuid); Type: ACL; Schema: api; Owner: postgres
--

REVOKE ALL ON FUNCTION api.weekly_attendance(week text, student_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION api.weekly_attendance(week text, student_id uuid) TO authenticated;


--
-- Name: FUNCTION alert_standing(p_students uuid[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.alert_standing(p_students uuid[]) FROM PUBLIC;


--
-- Name: FUNCTION apply_alerts(p_students uuid[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.apply_alerts(p_students uuid[]) FROM PUBLIC;


--
-- Name: FUNCTION authorize_admin(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.authorize_admin() FROM PUBLIC;
GRANT ALL ON FUNCTION app.authorize_admin() TO authenticated;


--
-- Name: FUNCTION authorize_class(p_class_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.authorize_class(p_class_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION authorize_student(p_student_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.authorize_student(p_student_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION begin_certificate_scan(p_file_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.begin_certificate_scan(p_file_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app.begin_certificate_scan(p_file_id uuid) TO jobs_worker;
GRANT ALL ON FUNCTION app.begin_certificate_scan(p_file_id uuid) TO service_role;


--
-- Name: FUNCTION begin_email_deliveries(p_deliveries bigint[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.begin_email_deliveries(p_deliveries bigint[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app.begin_email_deliveries(p_deliveries bigint[]) TO jobs_worker;


--
-- Name: FUNCTION begin_events(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.begin_events() FROM PUBLIC;


--
-- Name: FUNCTION caller_student_id(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.caller_student_id() FROM PUBLIC;


--
-- Name: FUNCTION certificate_for_download(p_file_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.certificate_for_download(p_file_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app.certificate_for_download(p_file_id uuid) TO authenticator;
GRANT ALL ON FUNCTION app.certificate_for_download(p_file_id uuid) TO service_role;


--
-- Name: TABLE medical_certificates; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.medical_certificates TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.medical_certificates TO service_role;


--
-- Name: FUNCTION certificate_json(c app.medical_certificates); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.certificate_json(c app.medical_certificates) FROM PUBLIC;
GRANT ALL ON FUNCTION app.certificate_json(c app.medical_certificates) TO authenticated;


--
-- Name: FUNCTION certificate_url_version(c app.medical_certificates); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.certificate_url_version(c app.medical_certificates) FROM PUBLIC;
GRANT ALL ON FUNCTION app.certificate_url_version(c app.medical_certificates) TO authenticated;
GRANT ALL ON FUNCTION app.certificate_url_version(c app.medical_certificates) TO authenticator;


--
-- Name: FUNCTION certificates_changed(p_student_id uuid, p_file_id uuid, p_what text); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.certificates_changed(p_student_id uuid, p_file_id uuid, p_what text) FROM PUBLIC;


--
-- Name: FUNCTION check_alerts(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.check_alerts() FROM PUBLIC;


--
-- Name: FUNCTION check_certificate_uploader(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.check_certificate_uploader() FROM PUBLIC;
GRANT ALL ON FUNCTION app.check_certificate_uploader() TO authenticated;


--
-- Name: FUNCTION check_export_range(p_from date, p_to date); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.check_export_range(p_from date, p_to date) FROM PUBLIC;


--
-- Name: FUNCTION class_exists(p_class_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.class_exists(p_class_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app.class_exists(p_class_id uuid) TO authenticated;


--
-- Name: FUNCTION create_event_partitions(p_days_ahead integer, p_from date); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.create_event_partitions(p_days_ahead integer, p_from date) FROM PUBLIC;


--
-- Name: FUNCTION create_notifications(p_new app.new_notification[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.create_notifications(p_new app.new_notification[]) FROM PUBLIC;


--
-- Name: FUNCTION dashboard_of(p_student_id uuid, p_class_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.dashboard_of(p_student_id uuid, p_class_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION dashboards_for(p_students uuid[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.dashboards_for(p_students uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app.dashboards_for(p_students uuid[]) TO authenticator;
GRANT ALL ON FUNCTION app.dashboards_for(p_students uuid[]) TO service_role;


--
-- Name: FUNCTION drop_expired_event_partitions(p_now timestamp with time zone); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.drop_expired_event_partitions(p_now timestamp with time zone) FROM PUBLIC;


--
-- Name: FUNCTION event_bound(OUT oldest_writer xid8, OUT xmax xid8, OUT last_id bigint); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.event_bound(OUT oldest_writer xid8, OUT xmax xid8, OUT last_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION event_head(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.event_head() FROM PUBLIC;
GRANT ALL ON FUNCTION app.event_head() TO authenticator;
GRANT ALL ON FUNCTION app.event_head() TO service_role;


--
-- Name: FUNCTION event_position(p_horizon xid8, p_id bigint); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.event_position(p_horizon xid8, p_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION event_position_expired(p_horizon xid8, p_id bigint); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.event_position_expired(p_horizon xid8, p_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION event_position_since(p_since timestamp with time zone); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.event_position_since(p_since timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app.event_position_since(p_since timestamp with time zone) TO authenticator;
GRANT ALL ON FUNCTION app.event_position_since(p_since timestamp with time zone) TO service_role;


--
-- Name: FUNCTION event_retention(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.event_retention() FROM PUBLIC;


--
-- Name: FUNCTION event_writer_lock(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.event_writer_lock() FROM PUBLIC;


--
-- Name: FUNCTION export_records(date_from date, date_to date); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.export_records(date_from date, date_to date) FROM PUBLIC;
GRANT ALL ON FUNCTION app.export_records(date_from date, date_to date) TO authenticated;


--
-- Name: FUNCTION export_summary(date_from date, date_to date); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.export_summary(date_from date, date_to date) FROM PUBLIC;
GRANT ALL ON FUNCTION app.export_summary(date_from date, date_to date) TO authenticated;


--
-- Name: FUNCTION fail_email_delivery(p_delivery bigint, p_error text, p_dead boolean); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.fail_email_delivery(p_delivery bigint, p_error text, p_dead boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app.fail_email_delivery(p_delivery bigint, p_error text, p_dead boolean) TO jobs_worker;


--
-- Name: FUNCTION finish_certificate_scan(p_file_id uuid, p_threats text[], p_engines text[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.finish_certificate_scan(p_file_id uuid, p_threats text[], p_engines text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app.finish_certificate_scan(p_file_id uuid, p_threats text[], p_engines text[]) TO jobs_worker;
GRANT ALL ON FUNCTION app.finish_certificate_scan(p_file_id uuid, p_threats text[], p_engines text[]) TO service_role;


--
-- Name: FUNCTION finish_email_deliveries(p_deliveries bigint[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.finish_email_deliveries(p_deliveries bigint[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app.finish_email_deliveries(p_deliveries bigint[]) TO jobs_worker;


--
-- Name: FUNCTION in_level(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.in_level(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app.in_level(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean) TO authenticated;


--
-- Name: FUNCTION is_admin(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.is_admin() FROM PUBLIC;
GRANT ALL ON FUNCTION app.is_admin() TO authenticated;
GRANT ALL ON FUNCTION app.is_admin() TO service_role;


--
-- Name: FUNCTION is_marked(p_status app.attendance_status); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.is_marked(p_status app.attendance_status) FROM PUBLIC;
GRANT ALL ON FUNCTION app.is_marked(p_status app.attendance_status) TO authenticated;
GRANT ALL ON FUNCTION app.is_marked(p_status app.attendance_status) TO service_role;


--
-- Name: FUNCTION is_staff(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.is_staff() FROM PUBLIC;
GRANT ALL ON FUNCTION app.is_staff() TO authenticated;
GRANT ALL ON FUNCTION app.is_staff() TO service_role;


--
-- Name: FUNCTION maintain_events(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.maintain_events() FROM PUBLIC;


--
-- Name: FUNCTION may_review_certificates_of(p_student_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.may_review_certificates_of(p_student_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION my_class_id(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.my_class_id() FROM PUBLIC;
GRANT ALL ON FUNCTION app.my_class_id() TO authenticated;
GRANT ALL ON FUNCTION app.my_class_id() TO service_role;


--
-- Name: FUNCTION notification_cursor(p_created_at timestamp with time zone, p_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.notification_cursor(p_created_at timestamp with time zone, p_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app.notification_cursor(p_created_at timestamp with time zone, p_id uuid) TO authenticated;


--
-- Name: FUNCTION parse_event_position(p_position text, OUT horizon xid8, OUT id bigint); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.parse_event_position(p_position text, OUT horizon xid8, OUT id bigint) FROM PUBLIC;


--
-- Name: TABLE notification_preferences; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.notification_preferences TO authenticated;


--
-- Name: FUNCTION preferences_json(p app.notification_preferences); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.preferences_json(p app.notification_preferences) FROM PUBLIC;
GRANT ALL ON FUNCTION app.preferences_json(p app.notification_preferences) TO authenticated;


--
-- Name: FUNCTION queue_certificate_file_deletes(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.queue_certificate_file_deletes() FROM PUBLIC;


--
-- Name: FUNCTION read_events(p_after text, p_limit integer); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.read_events(p_after text, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app.read_events(p_after text, p_limit integer) TO authenticator;
GRANT ALL ON FUNCTION app.read_events(p_after text, p_limit integer) TO service_role;


--
-- Name: FUNCTION read_jobs(p_vt integer, p_batch integer, p_normal_share integer, p_low_share integer); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.read_jobs(p_vt integer, p_batch integer, p_normal_share integer, p_low_share integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app.read_jobs(p_vt integer, p_batch integer, p_normal_share integer, p_low_share integer) TO jobs_worker;


--
-- Name: FUNCTION rebuild_attendance_summaries(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.rebuild_attendance_summaries() FROM PUBLIC;


--
-- Name: FUNCTION records_in_other_classes(p_class_id uuid, p_date date, p_period integer, p_ids uuid[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.records_in_other_classes(p_class_id uuid, p_date date, p_period integer, p_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app.records_in_other_classes(p_class_id uuid, p_date date, p_period integer, p_ids uuid[]) TO authenticated;


--
-- Name: FUNCTION recovery_of(p_present integer, p_marked integer); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.recovery_of(p_present integer, p_marked integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app.recovery_of(p_present integer, p_marked integer) TO authenticated;


--
-- Name: FUNCTION recovery_periods(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.recovery_periods(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app.recovery_periods(p_present integer, p_marked integer, p_threshold numeric, p_inclusive boolean) TO authenticated;


--
-- Name: FUNCTION register_certificate(p_id uuid, p_file_name text, p_description text, p_content_type text, p_size_bytes integer, p_sha256 text, p_stored_name text); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.register_certificate(p_id uuid, p_file_name text, p_description text, p_content_type text, p_size_bytes integer, p_sha256 text, p_stored_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION app.register_certificate(p_id uuid, p_file_name text, p_description text, p_content_type text, p_size_bytes integer, p_sha256 text, p_stored_name text) TO authenticated;


--
-- Name: FUNCTION student_trend(p_student_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.student_trend(p_student_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION taught_class_ids(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.taught_class_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION app.taught_class_ids() TO authenticated;
GRANT ALL ON FUNCTION app.taught_class_ids() TO service_role;


--
-- Name: FUNCTION tg_attendance_records__events(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.tg_attendance_records__events() FROM PUBLIC;


--
-- Name: FUNCTION tg_attendance_records__events_truncate(); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.tg_attendance_records__events_truncate() FROM PUBLIC;


--
-- Name: FUNCTION unknown_student_ids(p_ids uuid[]); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.unknown_student_ids(p_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app.unknown_student_ids(p_ids uuid[]) TO authenticated;


--
-- Name: FUNCTION visible_certificate(p_file_id uuid); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.visible_certificate(p_file_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION widen_xid(p_xid xid, p_near xid8); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.widen_xid(p_xid xid, p_near xid8) FROM PUBLIC;


--
-- Name: FUNCTION write_events(p_events jsonb); Type: ACL; Schema: app; Owner: postgres
--

REVOKE ALL ON FUNCTION app.write_events(p_events jsonb) FROM PUBLIC;


--
-- Name: FUNCTION archive_drop(p_month date); Type: ACL; Schema: audit; Owner: postgres
--

REVOKE ALL ON FUNCTION audit.archive_drop(p_month date) FROM PUBLIC;
GRANT ALL ON FUNCTION audit.archive_drop(p_month date) TO jobs_worker;


--
-- Name: FUNCTION archive_figures(p_month date, OUT rows bigint, OUT first_at timestamp with time zone, OUT last_at timestamp with time zone); Type: ACL; Schema: audit; Owner: postgres
--

REVOKE ALL ON FUNCTION audit.archive_figures(p_month date, OUT rows bigint, OUT first_at timestamp with time zone, OUT last_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION audit.archive_figures(p_month date, OUT rows bigint, OUT first_at timestamp with time zone, OUT last_at timestamp with time zone) TO jobs_worker;


--
-- Name: FUNCTION archive_verified(p_month date); Type: ACL; Schema: audit; Owner: postgres
--

REVOKE ALL ON FUNCTION audit.archive_verified(p_month date) FROM PUBLIC;
GRANT ALL ON FUNCTION audit.archive_verified(p_month date) TO jobs_worker;


--
-- Name: FUNCTION archive_written(p_month date, p_location text, p_sha256 text, p_bytes bigint, p_rows bigint, p_first timestamp with time zone, p_last timestamp with time zone); Type: ACL; Schema: audit; Owner: postgres
--

REVOKE ALL ON FUNCTION audit.archive_written(p_month date, p_location text, p_sha256 text, p_bytes bigint, p_rows bigint, p_first timestamp with time zone, p_last timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION audit.archive_written(p_month date, p_location text, p_sha256 text, p_bytes bigint, p_rows bigint, p_first timestamp with time zone, p_last timestamp with time zone) TO jobs_worker;


--
-- Name: FUNCTION create_partitions(p_months_ahead integer, p_from date); Type: ACL; Schema: audit; Owner: postgres
--

REVOKE ALL ON FUNCTION audit.create_partitions(p_months_ahead integer, p_from date) FROM PUBLIC;


--
-- Name: FUNCTION detach_for_archive(p_threshold bigint, p_age interval, p_now timestamp with time zone); Type: ACL; Schema: audit; Owner: postgres
--

REVOKE ALL ON FUNCTION audit.detach_for_archive(p_threshold bigint, p_age interval, p_now timestamp with time zone) FROM PUBLIC;


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
-- Name: TABLE class_statistics; Type: ACL; Schema: analytics; Owner: postgres
--

GRANT SELECT ON TABLE analytics.class_statistics TO service_role;


--
-- Name: TABLE pending_changes; Type: ACL; Schema: analytics; Owner: postgres
--

GRANT SELECT ON TABLE analytics.pending_changes TO service_role;


--
-- Name: TABLE refresh_state; Type: ACL; Schema: analytics; Owner: postgres
--

GRANT SELECT ON TABLE analytics.refresh_state TO service_role;


--
-- Name: TABLE student_rankings; Type: ACL; Schema: analytics; Owner: postgres
--

GRANT SELECT ON TABLE analytics.student_rankings TO service_role;


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
-- Name: TABLE class_students; Type: ACL; Schema: api; Owner: postgres
--

GRANT SELECT ON TABLE api.class_students TO authenticated;


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
-- Name: TABLE alert_settings; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.alert_settings TO authenticated;


--
-- Name: TABLE class_teachers; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.class_teachers TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.class_teachers TO service_role;


--
-- Name: TABLE events; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.events TO service_role;


--
-- Name: TABLE notifications; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.notifications TO authenticated;


--
-- Name: TABLE student_alert_state; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.student_alert_state TO authenticated;


--
-- Name: TABLE student_attendance_daily; Type: ACL; Schema: app; Owner: postgres
--

GRANT SELECT ON TABLE app.student_attendance_daily TO authenticated;
GRANT SELECT ON TABLE app.student_attendance_daily TO service_role;


--
-- Name: TABLE archives; Type: ACL; Schema: audit; Owner: postgres
--

GRANT SELECT ON TABLE audit.archives TO jobs_worker;


--
-- Name: TABLE audit_logs; Type: ACL; Schema: audit; Owner: postgres
--

GRANT SELECT ON TABLE audit.audit_logs TO service_role;


--
-- PostgreSQL database dump complete
--
