"""Settings of the server process, made once at start-up before the app serves: how it returns memory to the
system, and how large the chunks are in which it sends files."""

from __future__ import annotations

import ctypes
import ctypes.util

from starlette.responses import FileResponse


def return_freed_memory(threshold: int = 128 << 10, arenas: int = 2) -> bool:
    """Make glibc's malloc give freed blocks of `threshold` bytes or more back to the system at once, and keep
    at most `arenas` heaps for the server's many threads.

    Each request allocates and frees photo-sized buffers (MBs) on several threads. By default glibc raises its
    mmap threshold (128 KiB at start) to the largest block freed so far, up to 32 MiB, after which such buffers
    come from per-thread heaps (up to 8 per core) that stay fragmented and resident: the server's memory crept
    up under load. Fixing the threshold keeps them in mmap'd blocks, unmapped when freed. Returns False where
    there is no glibc (nothing changes).
    """
    m_mmap_threshold, m_arena_max = -3, -8  # from glibc's malloc.h
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        done = [libc.mallopt(m_arena_max, arenas), libc.mallopt(m_mmap_threshold, threshold)]  # 1: done
        return all(done)
    except (OSError, AttributeError):
        return False


def send_files_in_larger_chunks(chunk: int = 1 << 18) -> None:
    """Make Starlette's FileResponse, which serves every result, read and send `chunk` bytes at a time.

    Its default, 64 KiB, is a hop to a worker thread per 64 KiB: a large photo's downloads (an API client fetches
    each image once per output that shows it) took hundreds of them. 256 KiB chunks need a quarter of the hops;
    larger ones were no faster under load and buffered more per download.
    """
    FileResponse.chunk_size = chunk
