-- A class the materialized views do not hold yet (created, or given its first marked student,
-- since their last refresh) is computed live instead of answered with nothing: its students
-- saw a class without a name or figures until the next refresh. A class the views hold is
-- read from them as before; `freshness` keeps describing the views.

/** Figures of one class: from the materialized view once it holds the class, else computed live. */
create or replace function analytics.class_figures(p_class_id uuid)
    returns setof analytics.class_statistics_live
    language plpgsql
    stable
    security invoker
    set search_path = ''
as $$
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

/** Rankings of one class: from the materialized view once it ranks the class, else computed live. */
create or replace function analytics.class_rankings(p_class_id uuid)
    returns setof analytics.student_rankings_live
    language plpgsql
    stable
    security invoker
    set search_path = ''
as $$
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
