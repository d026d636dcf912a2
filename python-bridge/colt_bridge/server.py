"""The gRPC service: maps proto messages to Task calls, and bridge errors to status codes."""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import traceback
import uuid
from concurrent import futures

import grpc
import tvm

from . import __version__
from .auth import GRPC_OPTIONS, TokenInterceptor
from .errors import BridgeError, InvalidArgument, NotFound, one_line
from .measure import MeasureSettings, RpcSettings, check_tracker
from .pretrained import NO_FILE, Pretrained, bundled_for
from .proto import pb, pb_grpc
from .targets import host_cpu, parse_target
from .task import Task, ensure_work_dir
from .traces import without_postproc
from .workload import load_workload

log = logging.getLogger("colt_bridge")


def _guard(method):
    """Turns BridgeErrors into their status code, anything else into INTERNAL with one line."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except BridgeError as err:
            context.abort(getattr(grpc.StatusCode, err.grpc_code), err.message)
        except Exception as err:  # pylint: disable=broad-except
            log.error("%s failed:\n%s", method.__name__, traceback.format_exc())
            context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__}: {one_line(err)}")
        return None  # unreachable: abort raises

    return wrapper


def _candidate(prepared) -> pb.Candidate:
    return pb.Candidate(
        trace_json=prepared.trace_json,
        shash=prepared.shash,
        decisions=[
            pb.Decision(
                inst_index=d.inst_index,
                kind=d.kind,
                value_json=json.dumps(d.value),
                detail_json=json.dumps(d.detail),
            )
            for d in prepared.decisions
        ],
    )


def _measure_response(outcomes, build_wall, run_wall) -> pb.MeasureResponse:
    return pb.MeasureResponse(
        results=[
            pb.MeasureResult(
                run_secs=o.run_secs,
                error=pb.MeasureErrorCode.Value(o.code),
                message=o.message,
                build_secs=o.build_secs,
                device=o.device,
                attempts=o.attempts,
            )
            for o in outcomes
        ],
        build_wall_secs=build_wall,
        run_wall_secs=run_wall,
    )


def _rpc_settings(m, timeout_sec: float) -> RpcSettings | None:
    if not m.HasField("rpc"):
        return None
    r = m.rpc
    if not r.tracker_host or not 0 < r.tracker_port < 65536:
        raise InvalidArgument("an RPC tracker needs a host and a port in 1..65535")
    if not r.key:
        raise InvalidArgument("an RPC tracker needs a device key")
    return RpcSettings(
        host=r.tracker_host,
        port=r.tracker_port,
        key=r.key,
        priority=r.priority or 1,
        session_timeout_sec=r.session_timeout_sec if r.session_timeout_sec > 0 else timeout_sec,
        max_retries=max(0, r.max_retries) if r.HasField("max_retries") else 2,
    )


def _task_response(task: Task) -> pb.OpenTaskResponse:
    info = task.describe()
    spaces = []
    for space in task.design_spaces:
        try:
            spaces.append(_candidate(task.prepare_trace(without_postproc(space), task.seed)))
        except Exception:  # pylint: disable=broad-except
            continue  # a design space whose sampled decisions fail postprocessing
    return pb.OpenTaskResponse(
        task_id=task.task_id,
        task_name=task.name,
        tvmscript=info["tvmscript"],
        flop=info["flop"],
        design_spaces=spaces,
        mutators=[pb.MutatorInfo(name=n, probability=p) for n, (_, p) in task.mutators.items()],
        target_json=info["target_json"],
        workload_key=info["workload_key"],
        devices=task.devices,
        host_cpu=host_cpu(),
        warnings=task.warnings,
        cost_model_file=task.pretrained.path if task.pretrained is not None else "",
    )


class BridgeService(pb_grpc.BridgeServicer):
    def __init__(self):
        self._tasks: dict[str, Task] = {}
        self._tasks_lock = threading.Lock()

    def add_task(self, task: Task) -> None:
        """Serves `task` under its id: one opened here, or one a host process made (colt_tvm)."""
        with self._tasks_lock:
            self._tasks[task.task_id] = task

    def remove_task(self, task_id: str) -> Task | None:
        with self._tasks_lock:
            return self._tasks.pop(task_id, None)

    def _task(self, task_id: str) -> Task:
        with self._tasks_lock:
            task = self._tasks.get(task_id)
        if task is None:
            raise NotFound(f"no open task {task_id!r}")
        return task

    @_guard
    def Health(self, request, context):
        return pb.HealthResponse(
            status="SERVING", tvm_version=tvm.__version__, bridge_version=__version__, pid=os.getpid()
        )

    @_guard
    def OpenTask(self, request, context):
        name, mod = load_workload(request.workload)
        target = parse_target(request.target_json or '{"kind":"llvm"}', host=request.host_cpu)
        if request.cost_model not in ("", "xgb", "random"):
            raise InvalidArgument(f"unknown cost model {request.cost_model!r}: use xgb or random")
        pretrained, warning = None, None
        if request.cost_model_file == NO_FILE:
            pass
        elif request.cost_model_file:
            if request.cost_model == "random":
                raise InvalidArgument("a cost model file goes with the xgb cost model, not random")
            pretrained = Pretrained.load(request.cost_model_file)
        elif request.cost_model in ("", "xgb"):
            # By default an x86-64 CPU target scores with the cost model shipped with the bridge.
            pretrained, warning = bundled_for(target)
        m = request.measure
        settings = MeasureSettings(
            number=m.number or 3,
            repeat=m.repeat or 1,
            min_repeat_ms=m.min_repeat_ms if m.min_repeat_ms >= 0 else 0,
            timeout_sec=m.timeout_sec or 30.0,
            enable_cpu_cache_flush=m.enable_cpu_cache_flush,
            rpc=_rpc_settings(m, m.timeout_sec or 30.0),
            check_correctness=m.check_correctness if m.HasField("check_correctness") else True,
        )
        if settings.rpc is not None:
            # Before anything is written: no tracker or no device is the user's to fix.
            check_tracker(settings.rpc)
        # The database is created only once the workload and target are known to be good, so a
        # bad request leaves no partial database behind.
        ensure_work_dir(request.work_dir)
        task_id = uuid.uuid4().hex[:12]
        task = Task.open(
            task_id, name, mod, target, request.work_dir, request.seed, request.cost_model or "xgb", settings, pretrained=pretrained
        )
        if warning:
            task.warnings.append(warning)
        self.add_task(task)
        return _task_response(task)

    @_guard
    def GetTask(self, request, context):
        task = self._task(request.task_id)
        with task.lock:
            return _task_response(task)

    @_guard
    def SampleInitial(self, request, context):
        task = self._task(request.task_id)
        with task.lock:
            prepared, failures = task.sample_initial(max(0, request.count), request.seed)
        return pb.SampleInitialResponse(candidates=[_candidate(p) for p in prepared], failures=failures)

    @_guard
    def Apply(self, request, context):
        task = self._task(request.task_id)
        steps = []
        for t in request.transformations:
            which = t.WhichOneof("kind")
            if which == "mutator":
                steps.append({"mutator": t.mutator})
            elif which == "set_decision":
                try:
                    value = json.loads(t.set_decision.value_json)
                except json.JSONDecodeError:
                    value = None
                steps.append({"inst_index": t.set_decision.inst_index, "value": value})
            else:
                steps.append({"mutator": ""})
        with task.lock:
            prepared, outcomes, error = task.apply(request.trace_json, steps, request.seed)
        response = pb.ApplyResponse(
            outcomes=[
                pb.TransformationOutcome(applied=ok, code=pb.ApplyErrorCode.Value(code), message=msg)
                for ok, code, msg in outcomes
            ]
        )
        if prepared is not None:
            response.candidate.CopyFrom(_candidate(prepared))
        else:
            response.error = pb.ApplyErrorCode.Value(error[0])
            response.message = error[1]
        return response

    @_guard
    def Predict(self, request, context):
        task = self._task(request.task_id)
        with task.lock:
            scores = task.predict(list(request.trace_json))
        return pb.PredictResponse(scores=scores)

    @_guard
    def Describe(self, request, context):
        task = self._task(request.task_id)
        with task.lock:
            scripts = task.tvmscripts(list(request.trace_json))
        return pb.DescribeResponse(tvmscript=scripts)

    @_guard
    def Measure(self, request, context):
        task = self._task(request.task_id)
        # The task locks what needs locking; on RPC devices, not the batch's time out there.
        outcomes, build_wall, run_wall = task.measure(list(request.trace_json), commit=not request.skip_commit)
        return _measure_response(outcomes, build_wall, run_wall)

    @_guard
    def Commit(self, request, context):
        task = self._task(request.task_id)
        if not request.run_secs:
            raise InvalidArgument("a record needs at least one run time")
        with task.lock:
            task.commit(task.prepare_json(request.trace_json), list(request.run_secs))
        return pb.CommitResponse()

    @_guard
    def MeasureUntuned(self, request, context):
        task = self._task(request.task_id)
        with task.lock:
            outcomes, build_wall, run_wall = task.measure_untuned()
        return _measure_response(outcomes, build_wall, run_wall)

    @_guard
    def ListRecords(self, request, context):
        task = self._task(request.task_id)
        with task.lock:
            stored, total = task.records(request.work_dir, max(0, request.limit), request.train_cost_model)
        records = []
        for r in stored:
            record = pb.TuningRecord(run_secs=r.run_secs, failed=r.failed)
            if r.prepared is not None:
                record.candidate.CopyFrom(_candidate(r.prepared))
            records.append(record)
        return pb.ListRecordsResponse(records=records, total=total)

    @_guard
    def CloseTask(self, request, context):
        with self._tasks_lock:
            task = self._tasks.pop(request.task_id, None)
        if task is None:
            raise NotFound(f"no open task {request.task_id!r}")
        with task.lock:
            task.close()
        return pb.CloseTaskResponse()


def serve(
    host: str, port: int, *, token: str, max_workers: int = 8, service: BridgeService | None = None
) -> tuple[grpc.Server, int]:
    """Starts a Bridge server on host:port (0: a free port) that refuses every call without
    `token` but the health check; returns it and the port bound."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        interceptors=[TokenInterceptor(token, "bridge")],
        options=GRPC_OPTIONS,
    )
    pb_grpc.add_BridgeServicer_to_server(service or BridgeService(), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    server.start()
    return server, bound
