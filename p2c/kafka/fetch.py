"""Fetch the pinned Apache Kafka into a local cache: by Maven where it exists, by plain HTTPS where it does not.

Either way the result is checked against :data:`p2c.kafka.artifacts.ARTIFACTS` (names and SHA-1s) before it
replaces anything, so a cache holds the pinned Kafka or nothing. Idempotent: a complete cache is left alone.
Concurrent fetches (a test run beside ``p2c up``) serialise on a lock file in the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from p2c.errors import ConfigurationError
from p2c.kafka.artifacts import ARTIFACTS, KAFKA_VERSION, MAVEN_CENTRAL, ROOTS, Artifact

log = logging.getLogger("p2c.kafka")

Progress = Callable[[str], None]
MARKER = "complete"
HTTP_ATTEMPTS = 3


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _marker_text() -> str:
    return "".join(f"{a.file_name} {a.sha1}\n" for a in ARTIFACTS)


def is_complete(home: Path) -> bool:
    """True when ``home`` holds the pinned Kafka (checked by the marker written after verification)."""
    libs = home / "libs"
    marker = home / MARKER
    if not marker.exists() or marker.read_text() != _marker_text():
        return False
    return all((libs / a.file_name).is_file() for a in ARTIFACTS)


def verify(directory: Path) -> None:
    """ConfigurationError unless ``directory`` holds exactly the pinned jars with their SHA-1s."""
    wanted = {a.file_name: a for a in ARTIFACTS}
    found = {p.name for p in directory.glob("*.jar")}
    problems = [f"missing {name}" for name in sorted(set(wanted) - found)]
    problems += [f"unexpected {name}" for name in sorted(found - set(wanted))]
    for name in sorted(set(wanted) & found):
        actual = sha1_of(directory / name)
        if actual != wanted[name].sha1:
            problems.append(f"{name} has SHA-1 {actual}, expected {wanted[name].sha1}")
    if problems:
        raise ConfigurationError(f"the fetched Kafka {KAFKA_VERSION} does not match its pins: {'; '.join(problems)}")


def pom() -> str:
    """A pom whose runtime dependencies are the Kafka broker and its log binding."""
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
        for g, a, v in ROOTS
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>p2c</groupId><artifactId>kafka-runtime</artifactId><version>1</version>"
        f"<packaging>pom</packaging><dependencies>{deps}</dependencies></project>\n"
    )


def by_maven(staging: Path, progress: Progress) -> None:
    """``mvn dependency:copy-dependencies`` of the generated pom into ``staging``."""
    build = staging.parent / "maven"
    build.mkdir(parents=True, exist_ok=True)
    (build / "pom.xml").write_text(pom())
    argv = [
        "mvn",
        "-B",
        "-f",
        str(build / "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    progress(f"resolving Apache Kafka {KAFKA_VERSION} with Maven ({len(ARTIFACTS)} jars)")
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            tail = [*tail[-30:], line.rstrip()]
            if "Downloaded from" in line:
                progress("  " + line.split("Downloaded from", 1)[1].strip().split("/")[-1].split(" ")[0])
        code = proc.wait()
    if code != 0:
        raise ConfigurationError(f"mvn exited with code {code}:\n" + "\n".join(tail))


def _download(client: httpx.Client, artifact: Artifact, target: Path) -> None:
    url = f"{MAVEN_CENTRAL}/{artifact.path}"
    published = client.get(f"{url}.sha1").raise_for_status().text.split()[0].strip().lower()
    if published != artifact.sha1:
        raise ConfigurationError(f"{url}.sha1 says {published}, p2c pins {artifact.sha1}: refusing it")
    with client.stream("GET", url) as response, open(target, "wb") as out:
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 16):
            out.write(chunk)
    actual = sha1_of(target)
    if actual != artifact.sha1:
        target.unlink()
        raise ConfigurationError(f"{url} downloaded with SHA-1 {actual}, expected {artifact.sha1}")


def by_https(staging: Path, progress: Progress) -> None:
    """Each pinned jar from Maven Central, checked against its published ``.sha1`` and against the pin."""
    staging.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=60.0, follow_redirects=True) as client:
        for number, artifact in enumerate(ARTIFACTS, 1):
            for attempt in range(1, HTTP_ATTEMPTS + 1):
                try:
                    _download(client, artifact, staging / artifact.file_name)
                    break
                except httpx.HTTPError as exc:
                    if attempt == HTTP_ATTEMPTS:
                        raise ConfigurationError(
                            f"could not download {artifact.file_name} from Maven Central ({exc}); "
                            "check the network or set P2C_KAFKA_HOME to a directory that holds it"
                        ) from exc
                    time.sleep(attempt)
            size = (staging / artifact.file_name).stat().st_size
            progress(f"  [{number}/{len(ARTIFACTS)}] {artifact.file_name} ({size / 1e6:.1f} MB)")


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def fetch(home: Path, progress: Progress = log.info, maven: bool | None = None) -> Path:
    """Make ``home/libs`` hold the pinned Kafka and return it. ``maven=None``: use mvn when it is on PATH."""
    with _locked(home):
        libs = home / "libs"
        if is_complete(home):
            return libs
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        use_maven = shutil.which("mvn") is not None if maven is None else maven
        started = time.monotonic()
        if use_maven:
            try:
                by_maven(staging, progress)
            except ConfigurationError as exc:
                progress(f"Maven could not resolve Kafka ({str(exc).splitlines()[0]}); downloading over HTTPS")
                shutil.rmtree(staging, ignore_errors=True)
                use_maven = False
        if not use_maven:
            progress(f"downloading Apache Kafka {KAFKA_VERSION} from Maven Central ({len(ARTIFACTS)} jars)")
            by_https(staging, progress)
        verify(staging)
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        (home / MARKER).write_text(_marker_text())
        progress(
            f"Apache Kafka {KAFKA_VERSION} ready in {libs} ({time.monotonic() - started:.0f} s, checksums verified)"
        )
        return libs
