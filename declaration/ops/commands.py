"""``declaration backup FILE``: a copy of the database, made while the server runs."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from declaration.db import get_database
from declaration.ops import backup


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace FILE if it exists.")
@with_appcontext
def backup_command(file: Path, replace: bool) -> None:
    """Back up the database into FILE, safely while the server runs.

    SQLite: SQLite's online backup, checked, a file of its own. PostgreSQL: pg_dump in its
    custom format (restore with pg_restore); without pg_dump the command to run is printed
    and the exit status is 1. FILE is readable by its owner only.
    """
    database = get_database()
    try:
        if database.is_sqlite:
            made = backup.backup_sqlite(backup.sqlite_path(database.url), file, replace=replace)
            click.echo(f"Gesichert: {made.path} ({made.size} Bytes, Datenbankstand {made.schema}).")
            return
        command = backup.backup_postgres(database.url, file, replace=replace)
    except backup.BackupFailed as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Gesichert mit pg_dump: {file}")
    click.echo(f"Befehl: {command.shown()}")
