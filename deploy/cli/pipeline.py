"""Train, evaluate and gate the model in a SageMaker Pipeline; register it when it passes.

examples:
  byoc pipeline --bucket my-bucket                  # create or update the pipeline, run it, follow it
  byoc pipeline --bucket my-bucket --threshold 0.85 # another gate than [lifecycle] threshold
  byoc pipeline --bucket my-bucket --dry-run        # the AWS CLI and the pipeline definition; sends nothing
  byoc pipeline --local                             # offline: LocalPipelineSession, then moto's registry

Steps: Train (a training job of the image, as `byoc train`) -> Evaluate (a processing job of the image's
`evaluate` on the validation channel: evaluation.json, a report, the data baseline) -> ObjectiveGate (the
task's objective metric, auc for binary, log_loss for multiclass, rmse for regression, against the threshold
of the project file's [lifecycle] threshold or --threshold) -> Register (into the model package group named
after the project, as PendingManualApproval, with the evaluation as ModelMetrics) or GateFailed (a FailStep
whose message gives the metric and the threshold; nothing is registered).

--local runs the same steps with the SDK's LocalPipelineSession on the offline stand-ins (`byoc offline up`).
Local mode has no register step: when the gate passes, the same registration goes to moto's model registry
on the moto server, outside the pipeline. The output says where each step ran. Then `byoc models` lists the
versions. The exit status is 1 when the gate failed or a step failed.
`python -m lightsage_deploy pipeline` is the same command.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import replace

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import metrics
from lightsage_deploy.jobs.gate import gate_for, parse_threshold
from lightsage_deploy.project import project
from lightsage_deploy.steps import pipeline

COMMAND = "pipeline"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_target_arguments(parser)
    cli.add_layout_arguments(parser)
    cli.add_estimator_arguments(parser)
    group = parser.add_argument_group("quality gate and evaluation")
    group.add_argument(
        "--threshold",
        help="the value the objective metric must reach (default: the project file's [lifecycle] threshold)",
    )
    group.add_argument(
        "--processing-instance-type",
        help="for the evaluation job (default: the training --instance-type)",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="start the execution on SageMaker and return at once"
    )
    return parser


def threshold_from(arguments: argparse.Namespace, the_project: project.Project) -> float:
    if arguments.threshold is not None:
        return parse_threshold(arguments.threshold)
    if the_project.threshold is None:
        raise DeployError(
            "no quality gate threshold: set threshold in the project file's [lifecycle] table, or pass "
            "--threshold"
        )
    return the_project.threshold


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    cli.refuse_local_dry_run(arguments)
    if arguments.no_wait and arguments.local:
        raise DeployError("--no-wait is for SageMaker: a local pipeline runs in this process to its end")
    the_project = project.load()
    threshold = threshold_from(arguments, the_project)
    with cli.target_from(arguments, the_project, sdk_telemetry=not arguments.dry_run) as target:
        training = cli.training_options_from(arguments, target, the_project)
        task = metrics.inferred_task(training.hyperparameters, the_project.source)
        training = replace(training, hyperparameters={**training.hyperparameters, "task": task.value})
        where = "--threshold" if arguments.threshold is not None else "[lifecycle] threshold"
        options = pipeline.PipelineOptions(
            training=training,
            gate=gate_for(task, threshold, where),
            processing_instance_type=arguments.processing_instance_type or training.instance_type,
        )
        if arguments.dry_run:
            planned = pipeline.plan(target, options)
            print(f"# save the pipeline definition below as {pipeline.definition_file(options)}, then:")
            for command in planned.commands:
                print(command)
            print(json.dumps(planned.definition, indent=2))
            return 0
        if target.is_local:
            run = pipeline.run_local(target, options)
        else:
            run = pipeline.run_on_sagemaker(target, options, wait=not arguments.no_wait)
    print("\n".join(run.lines()))
    if run.gate_passed is False:
        raise DeployError(run.failure or f"the quality gate failed: {options.gate} was not met")
    if run.status not in ("Succeeded", "Executing"):
        raise DeployError(f"pipeline {run.name} {run.status}: {run.failure or 'a step failed (see above)'}")
    return 0
