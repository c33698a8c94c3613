"""The pipeline's chunk cache in ``translation_cache``: de-identified chunks and their checked
de-identified translations, keyed by model, model version, prompt contract and glossary version.
Never PHI, never a re-identified text."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import TranslationCacheEntry
from backend.db.session import write_lock
from clinical.contract import CONTRACT_VERSION
from clinical.translate import cache_key, glossary_version


class DatabaseChunkCache:
    """Chunk translations of one model and version (:class:`clinical.translate.ChunkCache`)."""

    def __init__(self, sessions: sessionmaker[Session], model: str, model_version: str) -> None:
        self.sessions = sessions
        self.model = model
        self.model_version = model_version

    def _key(self, source: str) -> str:
        return cache_key(source, self.model, self.model_version)

    def _get(self, source: str) -> str | None:
        with self.sessions() as session:
            row = session.get(TranslationCacheEntry, self._key(source))
            return row.translation if row is not None and row.source_text == source else None

    def _put(self, source: str, translation: str) -> None:
        with self.sessions() as session, write_lock(session):
            session.merge(TranslationCacheEntry(
                key=self._key(source), model=self.model, model_version=self.model_version,
                contract_version=CONTRACT_VERSION, glossary_version=glossary_version(),
                source_text=source, translation=translation))
            try:
                session.commit()
            except IntegrityError:  # another request stored the same chunk first: theirs is as good
                session.rollback()

    async def get(self, source: str) -> str | None:
        return await asyncio.to_thread(self._get, source)

    async def put(self, source: str, translation: str) -> None:
        await asyncio.to_thread(self._put, source, translation)
