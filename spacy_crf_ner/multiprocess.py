"""What makes a pipeline fast and safe in worker processes
(``nlp.pipe(n_process=N)``, ``spacy apply --n-process N``, ``annotate``).

Two process-wide settings, made once when the components are imported
(:func:`install`), each of which can be turned off with an environment
variable:

* **srsly's msgpack extension lookup is cached.** Every
  ``srsly.msgpack_dumps``/``msgpack_loads`` call asks catalogue for the
  registered msgpack encoders or decoders (``Registry.get_all``), which
  filters every installed entry point and every registered function of the
  process: 0.2 to 0.5 ms per call, whatever the size of the message. spaCy
  makes that call once per Doc in ``Doc.to_bytes``/``from_bytes``, once more
  for the Doc's span groups and once per group, and twice when ``user_data``
  is set (extension attributes such as ``Span._.crf_confidence`` live
  there). With ``n_process`` > 1 every Doc is serialized in a worker and
  deserialized in the parent, so on sentence-length documents this lookup,
  not the annotation, decided the throughput: more processes were slower
  than one, for spaCy's own ``ner`` too (BENCHMARKS.md). The cache returns
  exactly what ``get_all`` returns: it is refreshed whenever catalogue's
  registry gains an entry or one of the cached functions is registered
  again under its name (entry points are read once, when catalogue is
  imported). ``SPACY_CRF_NER_MSGPACK_CACHE=0`` turns it off.
* **Worker processes use one thread** for BLAS (numpy's OpenBLAS), OpenMP
  and torch: forked children (through ``os.register_at_fork``) and children
  that multiprocessing spawned (when they import the components). N workers
  on N cores each running a pool of N threads oversubscribed the cores:
  with the tagger's OpenBLAS pool, ``n_process=2`` was slower than one
  process (BENCHMARKS.md). And a process that ran torch's thread pool (the
  BiLSTM encoder, a transformer) and then forked left the child a pool
  whose threads do not exist, so the child's first parallel torch operation
  waited forever. ``SPACY_CRF_NER_ONE_THREAD_WORKERS=0`` leaves workers as
  they are.
"""
import multiprocessing
import os
import sys
from typing import Any, Callable, Dict, Tuple

import catalogue

MSGPACK_CACHE_ENV = "SPACY_CRF_NER_MSGPACK_CACHE"
ONE_THREAD_WORKERS_ENV = "SPACY_CRF_NER_ONE_THREAD_WORKERS"

_installed = False


class CachedRegistryLookup:
    """A drop-in for ``registry.get_all`` of one catalogue registry that
    recomputes its result only when catalogue's registry has changed."""

    def __init__(self, registry: catalogue.Registry) -> None:
        self.registry = registry
        self._lookup: Callable[[], Dict[str, Any]] = type(registry).get_all.__get__(registry)
        self._size = -1
        self._result: Dict[str, Any] = {}
        # (registry key, function) of every cached entry registered in
        # catalogue's REGISTRY, to notice a re-registration under the same name.
        self._registered: Tuple[Tuple[Tuple[str, ...], Any], ...] = ()

    def __call__(self) -> Dict[str, Any]:
        registry = catalogue.REGISTRY
        if len(registry) != self._size or any(registry.get(key) is not func for key, func in self._registered):
            self._size = len(registry)
            self._result = self._lookup()
            namespace = self.registry.namespace
            self._registered = tuple(
                (namespace + (name,), func)
                for name, func in self._result.items()
                if namespace + (name,) in registry
            )
        return dict(self._result)


def cache_msgpack_lookup() -> None:
    """Cache the extension lookup of srsly's msgpack encoders and decoders."""
    from srsly import msgpack

    for registry in (msgpack.msgpack_encoders, msgpack.msgpack_decoders):
        if not isinstance(registry.__dict__.get("get_all"), CachedRegistryLookup):
            registry.get_all = CachedRegistryLookup(registry)  # type: ignore[method-assign]


def limit_worker_threads() -> None:
    """One thread for BLAS, OpenMP and torch in this process."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def install() -> None:
    """Make the settings this module describes, once per process (forked
    children inherit them; spawned ones make them when they import the
    components)."""
    global _installed
    if _installed:
        return
    _installed = True
    if os.environ.get(MSGPACK_CACHE_ENV, "1") != "0":
        cache_msgpack_lookup()
    if os.environ.get(ONE_THREAD_WORKERS_ENV, "1") != "0":
        if multiprocessing.parent_process() is not None:  # a spawned worker
            limit_worker_threads()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=limit_worker_threads)
