"""One photo of a batch, from its file to its written outputs: shared by the command line's local engine
(colorizer.__main__) and its Ray engine (colorizer.archive), so that both make the same images under the same
names and count the same way.

A photo's outputs are OUTDIR/<stem>_<look>.png for each look (a model's name, 'blend', 'own'). Only the outputs
still missing are made (all of them with `overwrite`), and only the models they need are run; an output that would
replace one of the inputs is never written. Every output is written atomically (colorizer.atomic).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

from colorizer.compare import compare
from colorizer.imageio import ImageError, open_image, png_bytes
from colorizer.model import Model, load
from colorizer.output import BLEND, OWN, Controls, output_image
from colorizer.pipeline import SupportsRestore, get_restorer
from colorizer.storage import Folder

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class Job:
    """What every photo of a batch gets: the models, the looks written, the user's controls, the render size
    (None: each model's own), whether existing outputs are replaced, and the restorer (None: no repair)."""

    models: list[Model]
    looks: list[str]
    controls: Controls = field(default_factory=Controls)
    render_size: int | None = None
    overwrite: bool = False
    restorer: SupportsRestore | None = None

    @staticmethod
    def looks_for(models: list[Model], blend: bool, own_colours: bool) -> list[str]:
        """The looks a batch writes: each model's, then 'blend' and 'own' where asked for."""
        return [m.name for m in models] + [BLEND] * blend + [OWN] * own_colours


def job_from_args(args: argparse.Namespace) -> Job:
    """The Job of the command line's arguments (colorizer.__main__.parse_args): its models and restorer loaded
    (ManifestError, ContractError or FileNotFoundError when one cannot be used)."""
    models = [load(n) for n in (["cnn", "gan"] if args.model == "both" else [args.model])]
    restorer = get_restorer("cracks" if args.cracks else args.restore)
    controls = Controls(args.saturation, args.brightness, args.auto_contrast, args.blend or 0.0)
    looks = Job.looks_for(models, args.blend is not None, args.own_colours)
    return Job(models, looks, controls, args.render_size, args.overwrite, restorer)


@dataclass
class Outcome:
    """What became of one photo.

    status   done: every output it needs exists (written now or kept from before); skipped: an output was left
             unwritten because it would replace one of the inputs; failed: the file could not be read or coloured
    error    why it failed or was skipped ("" when done)
    written, kept   output paths written by this run, and those already there and left as they were
    notes    lines for the user that are not errors (a photo without colour of its own gets no 'own' output)
    seconds  the time spent on the photo
    """

    status: str = DONE
    error: str = ""
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def colorize_photo(job: Job, source: Path | bytes, name: str, stem: str, outdir: Folder, inputs: set[str]) -> Outcome:
    """Make the outputs one photo still needs. source: its file, or the file's bytes (named `name` in messages);
    stem: its outputs' stem (colorizer.imageio.unique_stems over the whole batch); inputs: the batch's input files
    as Folder.key gives them (resolved paths, or URIs), which are never written over. A file that cannot be read is
    an Outcome with status failed, never an exception; an error of the model or the disk is raised."""
    start, out = time.perf_counter(), Outcome()
    todo = {}
    for look in job.looks:
        file = f"{stem}_{look}.png"
        if outdir.key(file) in inputs:
            out.status, out.error = SKIPPED, f"not written: {outdir.path(file)} is one of the inputs"
        elif not job.overwrite and outdir.exists(file):
            out.kept.append(outdir.path(file))
        else:
            todo[look] = file
    if todo:  # else done by an earlier run: no need to read or colour it again
        needed = [m for m in job.models if m.name in todo or BLEND in todo]
        try:
            image = open_image(source)
        except ImageError as e:
            return Outcome(FAILED, f"{name}: {e.reason}", seconds=time.perf_counter() - start)
        result = compare(needed, image, job.render_size, job.restorer or False)
        for look, file in todo.items():
            if (made := output_image(result, look, job.models, job.controls)) is None:
                out.notes.append(f"no own colours for {name}: {result.photo.colour.reason}")
                continue
            try:
                outdir.write(file, png_bytes(*made), job.overwrite)
                out.written.append(outdir.path(file))
            except FileExistsError:  # appeared since the check above (another run): still never replaced
                out.kept.append(outdir.path(file))
    out.seconds = time.perf_counter() - start
    return out
