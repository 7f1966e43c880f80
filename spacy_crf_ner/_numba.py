"""``njit`` for the package's compiled kernels: numba is imported, and a
module's kernels are set up, when one of them is first called.

spaCy imports every installed component factory whenever it builds a
pipeline, so a module that imported numba at import time would cost every
spaCy user with this package installed about half a second, whether their
pipeline uses our kernels or not.

Kernels are cached on disk (``cache=True``): numba keeps the compiled code in
``__pycache__`` beside the source if that folder is writable, else in
``NUMBA_CACHE_DIR``, else in the user's cache folder (README, "Deployment").
Where none is writable numba refuses to cache; the kernels are then
compiled in every process, with a warning that says how to fix it, instead
of failing.
"""
import functools
import logging
from typing import Any, Callable, Dict, Optional

logger = logging.getLogger("spacy_crf_ner")


class LazyKernel:
    """A kernel whose numba dispatcher is made on its first call. Making one
    makes every lazy kernel of the same module, and puts the dispatchers in
    the module's namespace, where kernels that call each other find them
    while numba compiles them."""

    def __init__(self, func: Callable, options: Dict[str, Any]) -> None:
        self.py_func = func
        self.options = options
        self.dispatcher: Optional[Callable] = None
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any) -> Any:
        dispatcher = self.dispatcher
        if dispatcher is None:
            dispatcher = self.compile()
        return dispatcher(*args)

    def compile(self) -> Callable:
        """The numba dispatcher (made for every lazy kernel of this module)."""
        if self.dispatcher is None:
            namespace = self.py_func.__globals__
            for name, value in list(namespace.items()):
                if isinstance(value, LazyKernel) and value.py_func.__globals__ is namespace:
                    namespace[name] = value._make_dispatcher()
            if self.dispatcher is None:  # not reachable under its own name
                self._make_dispatcher()
        assert self.dispatcher is not None
        return self.dispatcher

    def _make_dispatcher(self) -> Callable:
        if self.dispatcher is None:
            import numba

            try:
                self.dispatcher = numba.njit(**self.options)(self.py_func)
            except RuntimeError as err:
                if not self.options.get("cache"):
                    raise
                logger.warning(
                    "spacy-crf-ner: compiled kernels cannot be cached (%s); they are compiled again "
                    "in every process. Set NUMBA_CACHE_DIR to a writable folder (README: Deployment).",
                    err,
                )
                self.dispatcher = numba.njit(**{**self.options, "cache": False})(self.py_func)
        return self.dispatcher


def njit(**options: Any) -> Callable[[Callable], LazyKernel]:
    """``numba.njit(**options)``, made when the kernel is first called."""

    def decorate(func: Callable) -> LazyKernel:
        return LazyKernel(func, options)

    return decorate
