"""One photo of a batch, from its file to its written outputs: shared by the command line's local engine
(colorizer.__main__) and its Ray engine (colorizer.archive), so that both make the same images under the same
names and count the same way.

A photo's outputs are OUTDIR/<stem>_<look>.png for each look (a model's name, 'blend', 'own'). Only the outputs
still missing are made (all of them with `overwrite`), and only the models they need are run; an output that would
replace one of the inputs is never written. Every output is written atomically (colorizer.atomic).

Colour hints come from a --hints file (read_hints), read once per Job: a photo whose hints cannot be used fails
with the file's name and the reason, and the others go on.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from colorizer.compare import compare
from colorizer.hints import Hint, HintError, check_hints, parse_hints
from colorizer.imageio import ImageError, open_image, png_bytes
from colorizer.model import Model, load
from colorizer.output import BLEND, OWN, Controls, output_image
from colorizer.pipeline import SupportsRestore, get_restorer
from colorizer.session import ContractError
from colorizer.storage import Folder

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
ANY = None  # HintsFile.hints' key for a file that holds one list: the hints of the one input (JSON keys are str)


@dataclass(frozen=True)
class HintsFile:
    """A --hints file, read once (read_hints).

    path   the file, as named in every message about it
    hints  file name (no folders) -> its hints, or why they cannot be used (a str); ANY -> the list of a file that
           holds one list, for a single input
    error  why the whole file cannot be used ("" if it can): no photo's hints are known, so every photo fails with it
    """

    path: str
    hints: dict[str | None, list[Hint] | str] = field(default_factory=dict)
    error: str = ""

    def for_photo(self, name: str) -> list[Hint]:
        """The hints of the photo `name` (a path or URI, looked up by its file name; [] for none), or HintError
        "<hints file>: <reason>"."""
        found = self.hints.get(ANY, self.hints.get(Path(name).name, []))
        if self.error or isinstance(found, str):
            raise HintError(f"{self.path}: {self.error or found}")
        return found

    @property
    def any_hints(self) -> bool:
        """Whether some photo has hints (or may have: an unusable entry)."""
        return any(bool(h) for h in self.hints.values())


def read_hints(path: str) -> HintsFile:
    """A --hints file: JSON, either a list of hints (colorizer.hints.parse_hints) for a single input, or an object
    mapping file names (without folders) to such lists. What cannot be used is recorded, not raised (HintsFile)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        return HintsFile(path, error=f"cannot be read ({getattr(e, 'strerror', None) or e})")
    except json.JSONDecodeError as e:
        return HintsFile(path, error=f"not JSON ({e})")
    if isinstance(data, list):
        data = {ANY: data}
    elif not isinstance(data, dict):
        return HintsFile(path, error="expected a list of hints or an object mapping file names to lists")
    hints: dict[str | None, list[Hint] | str] = {}
    for name, entry in data.items():
        try:
            if isinstance(entry, str):  # parse_hints would read it as JSON text
                raise HintError(f"the hints must be a list, got str {entry!r}")
            hints[name] = parse_hints(entry)
        except HintError as e:
            hints[name] = str(e)
    return HintsFile(path, hints)


@dataclass(frozen=True)
class Job:
    """What every photo of a batch gets: the models, the looks written, the user's controls, the render size
    (None: each model's own), whether existing outputs are replaced, the restorer (None: no repair) and the colour
    hints file (None: no hints)."""

    models: list[Model]
    looks: list[str]
    controls: Controls = field(default_factory=Controls)
    render_size: int | None = None
    overwrite: bool = False
    restorer: SupportsRestore | None = None
    hints: HintsFile | None = None

    @staticmethod
    def looks_for(models: list[Model], blend: bool, own_colours: bool) -> list[str]:
        """The looks a batch writes: each model's, then 'blend' and 'own' where asked for."""
        return [m.name for m in models] + [BLEND] * blend + [OWN] * own_colours


def job_from_args(args: argparse.Namespace) -> Job:
    """The Job of the command line's arguments (colorizer.__main__.parse_args): its models and restorer loaded and
    its hints file read (ManifestError, ContractError or FileNotFoundError when one cannot be used; ContractError
    too for hints given to a model that takes none)."""
    models = [load(n) for n in (["cnn", "gan"] if args.model == "both" else [args.model])]
    restorer = get_restorer("cracks" if args.cracks else args.restore)
    controls = Controls(args.saturation, args.brightness, args.auto_contrast, args.blend or 0.0)
    looks = Job.looks_for(models, args.blend is not None, args.own_colours)
    hints = read_hints(args.hints) if getattr(args, "hints", None) else None
    if hints is not None and hints.any_hints and (refusing := [m for m in models if not m.takes_hints]):
        raise ContractError(f"--hints: {refusing[0].path} is a {refusing[0].contract} model, which takes no hints")
    return Job(models, looks, controls, args.render_size, args.overwrite, restorer, hints)


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
    as Folder.key gives them (resolved paths, or URIs), which are never written over. A file that cannot be read,
    or whose hints cannot be used (job.hints), is an Outcome with status failed, never an exception; an error of
    the model or the disk is raised."""
    start, out = time.perf_counter(), Outcome()
    try:  # before anything is read: the photo's hints must be known even to keep its existing outputs
        hints = job.hints.for_photo(name) if job.hints else []
    except HintError as e:
        return Outcome(FAILED, f"{name}: {e}", seconds=time.perf_counter() - start)
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
        try:
            check_hints(hints, *image.shape[:2])
        except HintError as e:  # a hint outside this photo: this photo only
            return Outcome(FAILED, f"{name}: {job.hints.path}: {e}", seconds=time.perf_counter() - start)
        result = compare(needed, image, job.render_size, job.restorer or False, hints)
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
