"""What only the PostgreSQL backend has: its URL, its errors, its connection."""

from __future__ import annotations

import subprocess
import sys
import uuid
from urllib.parse import urlsplit

import anyio
import pytest

from s3lite import StorageError
from s3lite.storage import FileStorage, InvalidStorageRequest, StorageDatabaseError
from s3lite.storage._database import Connection
from tests.pgserver import PostgresServer
from tests.storage.dbhelpers import execute

pytestmark = pytest.mark.anyio

SECRET = "Sw0rdf1sh-never-shown"


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


async def open_error(url: str) -> StorageDatabaseError:
    with pytest.raises(StorageDatabaseError) as caught:
        async with FileStorage(url):
            pass
    return caught.value


def assert_secret_free(error: BaseException, *texts: str) -> None:
    seen = [str(error), repr(error), *texts]
    cause = error.__cause__ or error.__context__
    while cause is not None:
        seen += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    assert not [text for text in seen if SECRET in text]


async def test_an_unreachable_server_names_host_and_database_not_the_password() -> None:
    url = f"postgresql://app:{SECRET}@127.0.0.1:1/crm?connect_timeout=3"
    error = await open_error(url)
    assert isinstance(error, StorageError)
    assert "127.0.0.1" in str(error) and "/crm" in str(error)
    assert_secret_free(error, repr(FileStorage(url)))


async def test_a_wrong_password_is_a_typed_error_without_either_password(
    pg_server: PostgresServer,
) -> None:
    url = with_password(pg_server.url, SECRET)
    error = await open_error(url)
    assert "password authentication failed" in str(error)
    host = urlsplit(url).hostname
    assert f"{host}:{urlsplit(url).port}/postgres" in str(error)
    assert_secret_free(error)
    assert str(urlsplit(pg_server.url).password) not in str(error)


async def test_a_missing_database_is_named(pg_server: PostgresServer) -> None:
    error = await open_error(pg_server.database_url("no_such_catalogue"))
    assert "no_such_catalogue" in str(error) and "does not exist" in str(error)
    assert str(urlsplit(pg_server.url).password) not in str(error)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"postgresql://app:{SECRET}@db.example:notaport/crm", "port is not a number"),
        (f"postgresql://app:{SECRET}@db.example/crm?nosuchoption=1", "nosuchoption"),
        (f"postgresql://app:{SECRET}@[::1/crm", "IPv6"),
        (f"postgresql://app:{SECRET}%zz@db.example/crm", "percent-encoded"),
    ],
)
def test_a_malformed_url_is_refused_at_once_without_its_password(url: str, reason: str) -> None:
    with pytest.raises(InvalidStorageRequest, match="PostgreSQL URL") as caught:
        FileStorage(url)
    assert reason in str(caught.value)
    assert_secret_free(caught.value)


async def test_the_repr_never_shows_the_password(pg_server: PostgresServer) -> None:
    with pg_server.fresh_database() as url:
        async with FileStorage(url) as fs:
            password = str(urlsplit(url).password)
            assert password not in repr(fs)
            assert urlsplit(url).path in repr(fs)


async def test_the_tables_live_in_their_own_schema_beside_the_applications(
    pg_server: PostgresServer,
) -> None:
    with pg_server.fresh_database() as url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE public.files (id integer, note text)")
            conn.execute("INSERT INTO public.files VALUES (1, 'the application''s own')")
        async with FileStorage(url) as fs:
            info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"a")
            assert await fs.read(info.id) == b"a"
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT note FROM public.files").fetchall() == [
                ("the application's own",)
            ]
            found = conn.execute("SELECT count(*) FROM s3lite.files").fetchone()
            assert found is not None and found[0] == 1


def terminate_connections(server: PostgresServer, url: str) -> int:
    """Make the server close every connection s3lite has to ``url``'s database."""
    found = execute(
        server.url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 's3lite' AND datname = ?",
        (urlsplit(url).path.lstrip("/"),),
    )
    return len(found)


async def test_idle_connections_the_server_closed_are_replaced_without_an_error(
    pg_server: PostgresServer,
) -> None:
    with pg_server.fresh_database() as url:
        async with FileStorage(url) as fs:
            info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"before")
            async with anyio.create_task_group() as group:  # fill the pool
                for _ in range(8):
                    group.start_soon(fs.info, info.id)
            assert terminate_connections(pg_server, url) >= 2
            async with anyio.create_task_group() as group:  # each meets a dead connection
                for _ in range(8):
                    group.start_soon(fs.info, info.id)
            assert await fs.read(info.id) == b"before"
            later = await fs.upload("ActivityFile", uuid.uuid4(), "b.txt", b"after")
            assert await fs.read(later.id) == b"after"


async def test_a_connection_lost_in_the_middle_of_a_call_fails_that_call(
    pg_server: PostgresServer,
) -> None:
    with pg_server.fresh_database() as url:
        async with FileStorage(url) as fs:
            info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"kept")

            def lose_the_connection_after_one_statement(conn: Connection) -> None:
                conn.execute("SELECT 1")
                terminate_connections(pg_server, url)
                conn.execute("SELECT 2")

            with pytest.raises(StorageDatabaseError, match="storage database postgresql://"):
                await fs._db.run(lose_the_connection_after_one_statement)
            assert await fs.read(info.id) == b"kept"


def test_without_the_driver_a_postgresql_url_says_which_extra_to_install() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "import s3lite.storage as storage\n"
        "storage.FileStorage('files.db')\n"
        "try:\n"
        "    storage.FileStorage('postgresql://app@db.example/crm')\n"
        "except storage.StorageDatabaseError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 's3lite[postgres]'" in done.stdout


def test_the_core_package_and_sqlite_storage_never_import_the_driver() -> None:
    code = (
        "import sys, s3lite, s3lite.storage, s3lite._cli\n"
        "s3lite.storage.FileStorage('files.db')\n"
        "print('psycopg' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


async def test_a_write_that_loses_a_serialization_race_is_run_again(
    pg_server: PostgresServer,
) -> None:
    import psycopg

    name = "UseBaseEntityFileDeleteListener"
    with pg_server.fresh_database() as url:
        async with FileStorage(url) as fs:
            await fs.set_feature(name, False)
            with psycopg.connect(url, autocommit=True) as other:
                other.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                other.execute("UPDATE s3lite.features SET enabled = 0 WHERE name = %s", (name,))
                async with anyio.create_task_group() as group:
                    # Blocks on the other host's row lock, then fails to serialize
                    # once that host commits: the call must run again, not fail.
                    group.start_soon(fs.set_feature, name, True)
                    await anyio.sleep(0.3)
                    other.execute("COMMIT")
            assert await fs.feature(name) is True
