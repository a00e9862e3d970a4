"""Foreign keys checked once per statement instead of once per row, for the bulk tables' references.

PostgreSQL checks a foreign key row by row, each check locking the parent row, even when a whole chunk points at
one source or model version; in bulk inserts that check costs more than the insert itself. These triggers keep the
same guarantees (under READ COMMITTED, Django's default) at one query per statement: a new child row whose parent is
missing, or a parent deleted, re-keyed or truncated under child rows, raises foreign_key_violation (SQLSTATE 23503).

Used from migrations: a change to the SQL goes with a new migration that applies it to databases migrated before
(`statement_parent_check` for the check functions), and the old migrations then write the new SQL.
"""

from django.db import migrations


def statement_parent_key(
    *, child: str, column: str, parent: str, lock: str, nullable: bool = False
) -> list[migrations.RunSQL]:
    """Migration operations enforcing `child`.`column` → `parent`.id per statement (tables and columns are this
    project's constants, never user input); a `nullable` column's NULLs reference nothing."""
    check, guard = f"{child}_{column}_parent_check", f"{child}_{column}_child_guard"
    check_function = _check_function(child=child, column=column, parent=parent, lock=lock, nullable=nullable)
    # A parent deleted while children pointing at it are inserted: one must wait for the other, as a foreign key's
    # row lock makes it. lock="rows", for small parent tables (a whole chunk points at one source or model version):
    # the insert locks each distinct parent row FOR KEY SHARE, once per statement. lock="table", for large ones (a
    # score's transaction: one parent per row, where row locks would cost what the per-row check did): the insert
    # takes no row lock, and the parent's delete first takes a SHARE lock on the child table, so it waits for every
    # open insert into it to commit, then sees their rows. Parent deletes are rare operator actions.
    guard_function = _guard_function(child=child, column=column, parent=parent, lock=lock)
    forward = f"""
        {check_function}
        CREATE TRIGGER {check}_insert AFTER INSERT ON {child} REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {check}();
        CREATE TRIGGER {check}_update AFTER UPDATE ON {child} REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {check}();

        {guard_function}
        CREATE TRIGGER {guard}_delete BEFORE DELETE ON {parent}
            FOR EACH ROW EXECUTE FUNCTION {guard}();
        CREATE TRIGGER {guard}_update BEFORE UPDATE OF id ON {parent}
            FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION {guard}();
        -- After the statement, so that a TRUNCATE of both tables at once (Django's flush) passes.
        CREATE TRIGGER {guard}_truncate AFTER TRUNCATE ON {parent}
            FOR EACH STATEMENT EXECUTE FUNCTION {guard}();
    """  # noqa: S608
    reverse = f"""
        DROP TRIGGER {check}_insert ON {child};
        DROP TRIGGER {check}_update ON {child};
        DROP FUNCTION {check}();
        DROP TRIGGER {guard}_delete ON {parent};
        DROP TRIGGER {guard}_update ON {parent};
        DROP TRIGGER {guard}_truncate ON {parent};
        DROP FUNCTION {guard}();
    """
    return [migrations.RunSQL(forward, reverse)]


def statement_parent_check(
    *, child: str, column: str, parent: str, lock: str, nullable: bool = False
) -> migrations.RunSQL:
    """A migration operation that rewrites the check function of a reference `statement_parent_key` made, as this
    module writes it now (the triggers and the guard stay); reversed, it leaves the function as it is. `nullable` as
    the reference was made."""
    return migrations.RunSQL(
        _check_function(child=child, column=column, parent=parent, lock=lock, nullable=nullable), migrations.RunSQL.noop
    )


def statement_parent_time(*, child: str, column: str, parent: str, time: str, parent_time: str) -> migrations.RunSQL:
    """A migration operation that makes a reference `statement_parent_key` made with lock="table" match the parent's
    partition key too: the child's `time` column must equal the parent's `parent_time`, so that both the check of new
    children and the guard of deleted parents probe one month's partition instead of every one. Reversed, both
    functions probe by id alone again."""
    names = {"child": child, "column": column, "parent": parent, "lock": "table"}
    timed = _check_function(**names, match=(time, parent_time)) + _guard_function(**names, match=(time, parent_time))
    return migrations.RunSQL(timed, _check_function(**names) + _guard_function(**names))


def _guard_function(*, child: str, column: str, parent: str, lock: str, match: tuple[str, str] | None = None) -> str:
    """CREATE OR REPLACE of the function that refuses deleting, re-keying or truncating a parent still referenced;
    `match` (child column, parent column): a child references the parent row whose column equals its own too."""
    wait = f"LOCK TABLE {child} IN SHARE MODE;" if lock == "table" else ""
    matched = f" AND c.{match[0]} = OLD.{match[1]}" if match else ""
    return f"""
        CREATE OR REPLACE FUNCTION {child}_{column}_child_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {wait}
            IF TG_OP = 'TRUNCATE' THEN
                IF EXISTS (SELECT 1 FROM {child}) THEN
                    RAISE foreign_key_violation USING MESSAGE = 'cannot truncate table "{parent}" alone: '
                        'table "{child}" still references it';
                END IF;
                RETURN NULL;
            END IF;
            IF EXISTS (SELECT 1 FROM {child} c WHERE c.{column} = OLD.id{matched}) THEN
                RAISE foreign_key_violation USING MESSAGE = format(
                    'delete or update on table "{parent}": id %s is still referenced from table "{child}"', OLD.id
                );
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$;"""  # noqa: S608


def _check_function(
    *, child: str, column: str, parent: str, lock: str, nullable: bool = False, match: tuple[str, str] | None = None
) -> str:
    """CREATE OR REPLACE of the function that checks a statement's new rows' `column` against `parent`.id."""
    if lock == "rows":
        present = f"SELECT p.id FROM {parent} p WHERE p.id = n.{column} FOR KEY SHARE"  # noqa: S608
        given = f" WHERE {column} IS NOT NULL" if nullable else ""
        missing = f"""SELECT n.{column} INTO missing FROM (SELECT DISTINCT {column} FROM new_rows{given}) n
                LEFT JOIN LATERAL ({present}) p ON true WHERE p.id IS NULL LIMIT 1"""  # noqa: S608
        planning = at = ""
    elif lock == "table":
        given = f"n.{column} IS NOT NULL AND " if nullable else ""
        matched = f" AND p.{match[1]} = n.{match[0]}" if match else ""
        at = f" at its {match[0]}" if match else ""
        missing = f"""SELECT n.{column} INTO missing FROM new_rows n
                WHERE {given}NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = n.{column}{matched}) LIMIT 1"""  # noqa: S608
        # A session plans the query once and keeps the plan. Planned while the parent table was small (a new
        # installation's first batches), a hash join would read the whole parent table for every statement after it
        # had grown, ever slower as it grows. Probing the parent's primary key for each new row is right at any size.
        # The disabled scans cost 1e10 in the plan, far above jit_above_cost: without jit = off every statement of
        # a batch (1,000 rows or 100,000) would compile its check to machine code first, which costs more than it.
        planning = "SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET jit = off"
    else:
        raise ValueError(f"lock must be 'rows' or 'table', not {lock!r}")
    return f"""
        CREATE OR REPLACE FUNCTION {child}_{column}_parent_check() RETURNS trigger LANGUAGE plpgsql {planning} AS $$
        DECLARE
            missing bigint;
        BEGIN
            -- One statement: each statement of a trigger costs a single-row insert about what the check does.
            {missing};
            IF FOUND THEN
                RAISE foreign_key_violation USING MESSAGE = format(
                    'insert or update on table "{child}": {column} %s{at} is not present in table "{parent}"', missing
                );
            END IF;
            RETURN NULL;
        END $$;"""  # noqa: S608
