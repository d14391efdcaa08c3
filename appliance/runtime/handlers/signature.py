"""Signature check: NAME is accepted only with a valid RSASSA-PSS (SHA-256, MGF1) NAME.sig.

Either file may arrive first; the pair is checked when both are there. A pair still
incomplete after `grace_period` seconds, or with a bad signature, goes to quarantine.
"""

from __future__ import annotations

import threading
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from appliance.config import Section
from appliance.runtime.events.bus import EventBus
from appliance.runtime.handlers.base import FileHandler
from appliance.runtime.handlers.job import FileJob, Outcome

PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


def load_signer_key(path: Path) -> rsa.RSAPublicKey:
    """The RSA public key of a PEM certificate or a PEM public key."""
    data = path.read_bytes()
    if b"BEGIN CERTIFICATE" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path}: the signer key must be RSA for RSASSA-PSS")
    return key


def verify(key: rsa.RSAPublicKey, content: Path, signature: Path) -> bool:
    try:
        key.verify(signature.read_bytes(), content.read_bytes(), PSS, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class SignatureCheck(FileHandler):
    def __init__(self, section: Section, bus: EventBus) -> None:
        super().__init__(section, bus)
        self.key = load_signer_key(section.path("signer_certificate"))
        self.suffix: str = section["signature_suffix"]
        self.grace_period: float = section["grace_period"]
        self._waiting: dict[Path, threading.Timer] = {}
        self._lock = threading.Lock()

    def _pair(self, job: FileJob) -> tuple[FileJob, FileJob] | None:
        """(content, signature) jobs when both files are present, else None."""
        if job.path.endswith(self.suffix):
            content_path = job.real_path.with_name(job.real_path.name[: -len(self.suffix)])
            other = job.moved_to(content_path, job.path[: -len(self.suffix)])
            return (other, job) if content_path.is_file() else None
        signature_path = job.real_path.with_name(job.real_path.name + self.suffix)
        other = job.moved_to(signature_path, job.path + self.suffix)
        return (job, other) if signature_path.is_file() else None

    def process(self, job: FileJob) -> Outcome:
        pair = self._pair(job)
        if pair is None:
            self._wait_for_partner(job)
            return Outcome(False, f"waiting up to {self.grace_period:g} s for its pair")
        content, signature = pair
        self._stop_waiting(content, signature)
        if verify(self.key, content.real_path, signature.real_path):
            return Outcome(True, "signature valid", files=(content, signature))
        self.quarantine(signature, "invalid signature")
        return self.quarantine(content, "invalid signature")

    def _wait_for_partner(self, job: FileJob) -> None:
        timer = threading.Timer(self.grace_period, self._expire, args=(job,))
        timer.daemon = True
        with self._lock:
            previous = self._waiting.pop(job.real_path, None)
            self._waiting[job.real_path] = timer
        if previous:
            previous.cancel()
        timer.start()

    def _stop_waiting(self, *jobs: FileJob) -> None:
        with self._lock:
            timers = [self._waiting.pop(j.real_path, None) for j in jobs]
        for timer in timers:
            if timer:
                timer.cancel()

    def _expire(self, job: FileJob) -> None:
        with self._lock:
            if self._waiting.pop(job.real_path, None) is None:
                return
        if job.real_path.is_file() and self._pair(job) is None:
            what = "signature" if not job.path.endswith(self.suffix) else "signed file"
            self.quarantine(job, f"{what} missing after {self.grace_period:g} s")

    def close(self) -> None:
        with self._lock:
            timers, self._waiting = list(self._waiting.values()), {}
        for timer in timers:
            timer.cancel()
