"""``genoma pgx warfarin TABLE -o OUT``: weekly warfarin dose for every row of an IWPC table.

Thin: reading is :func:`genoma.io.iwpc.read_iwpc_table`, prediction is
:func:`genoma.analyses.pgx.warfarin.predict_weekly_dose`. Mounted under ``genoma pgx`` by
``genoma.cli.pgx``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import typer

from genoma.cli._common import emit_json, handle_errors

__all__ = ["warfarin"]

_log = logging.getLogger("genoma.pgx.warfarin")
COLUMNS = ("id", "dose_iwpc", "dose_model", "dose_clinical", "imputed")


@handle_errors
def warfarin(
    table: Path = typer.Argument(..., help="Table in the IWPC column layout (CSV)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output directory."),
    force: bool = typer.Option(False, "--force", help="Replace an existing OUT."),
    json_out: bool = typer.Option(False, "--json", help="JSON summary on stdout."),
) -> None:
    """Predict the stable weekly warfarin dose (mg/week) for every patient of TABLE.

    Writes OUT/warfarin.tsv (id, dose_iwpc, dose_model, dose_clinical, imputed),
    OUT/manifest.json and OUT/run.log. Missing age, height or weight are filled with the
    training medians of the same race and sex; ``imputed`` names them for each row.
    """
    from genoma import __version__
    from genoma.analyses.pgx.warfarin import (
        ANALYSIS,
        ANALYSIS_VERSION,
        load_warfarin_model,
        predict_weekly_dose,
    )
    from genoma.io.iwpc import read_iwpc_table
    from genoma.io.output import check_output_dir, run_directory, run_log, write_json
    from genoma.provenance import InputFile, KnowledgeVersion, RunManifest

    check_output_dir(out, force)
    features = read_iwpc_table(table)
    model = load_warfarin_model()
    pred = predict_weekly_dose(features, model, impute_missing=True)
    manifest = RunManifest.start("genoma pgx warfarin", table=str(table), force=force)
    manifest.inputs.append(InputFile.of("table", table))
    manifest.add_knowledge(KnowledgeVersion(
        name="genoma-warfarin-model", version=model.version,
        license="coefficients fitted on IWPC data (PharmGKB, CC BY-SA 4.0)",
        source=str(model.metadata.get("training_data", "")),
        checksum=hashlib.sha256(model.to_json().encode()).hexdigest()))
    manifest.add_knowledge(KnowledgeVersion(name="IWPC-algorithm", version="2009",
                                            source="https://doi.org/10.1056/NEJMoa0809329"))
    manifest.analyses[ANALYSIS] = ANALYSIS_VERSION
    n_missing = int(pred["dose_iwpc"].isna().sum())
    n_imputed = int((pred["imputed"] != "").sum())
    lines = ["\t".join(COLUMNS)]
    for sid, (_, r) in zip(features["id"], pred.iterrows(), strict=True):
        vals = [("NA" if r[c] != r[c] else f"{r[c]:.2f}") for c in COLUMNS[1:4]]
        lines.append("\t".join([str(sid), *vals, r["imputed"]]))
    with run_directory(out, force=force) as tmp, run_log(tmp):
        (tmp / "warfarin.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _log.info("genoma %s: genoma pgx warfarin %s", __version__, table)
        _log.info("rows: %d; with imputed age/height/weight: %d; without dose: %d",
                  len(features), n_imputed, n_missing)
        _log.info("model: %s (%s)", model.version, model.metadata.get("training_data", ""))
        manifest.outputs = ["warfarin.tsv", "manifest.json", "run.log"]
        manifest.finish("ok")
        write_json(tmp / "manifest.json", manifest.model_dump(mode="json"))
    if n_imputed:
        _log.warning("%d of %d rows: age, height or weight imputed (see column 'imputed')",
                     n_imputed, len(features))
    if json_out:
        emit_json({"out": str(Path(out).resolve()), "rows": len(features),
                   "predicted": len(features) - n_missing, "imputed": n_imputed,
                   "model_version": model.version,
                   "outputs": manifest.outputs})
