using System.Text.Json;
using System.Text.Json.Nodes;
using Lm.Runtime.Checkpoints;
using Lm.Runtime.Errors;
using Lm.Runtime.Files;
using Lm.Runtime.Models;
using Lm.Runtime.Models.CpuRandom;
using Lm.Runtime.Models.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace Lm.Runtime.Training;

/// <summary>The trainer's checkpoint half: what a checkpoint folder holds (weights, optimizer, scheduler, random
/// state, progress, trainer_state.json) and how a run is restored from one bit for bit. The loop is in Trainer.cs.</summary>
public sealed partial class Trainer
{
    /// <summary>HF's <c>_save_checkpoint</c>, written atomically; then <c>save_total_limit</c> rotation.</summary>
    private void SaveCheckpoint()
    {
        StoreFlos();
        int step = State.GlobalStep;
        string folder = _checkpoints.Save(step, temp =>
        {
            WriteModel(temp);
            var (tensors, description) = _optimizer!.StateDict();
            SafeTensorsWriter.Write(Path.Combine(temp, "optimizer.safetensors"), tensors, new Dictionary<string, string>());
            File.WriteAllText(Path.Combine(temp, "optimizer.json"), Indented(description));
            File.WriteAllText(Path.Combine(temp, "scheduler.json"), Indented(_scheduler!.ToJson()));
            File.WriteAllText(Path.Combine(temp, "rng_state.json"), Indented(RandomState()));
            File.WriteAllText(Path.Combine(temp, "trainer_progress.json"), Indented(Progress()));
            if (State.BestGlobalStep is int bestStep)
            {
                string best = _checkpoints.FolderFor(bestStep);
                if (bestStep == step || Directory.Exists(best)) State.BestModelCheckpoint = best;
            }
            _control.ShouldSave = true;
            State.StatefulCallbacks = StatefulCallbacks();
            File.WriteAllText(Path.Combine(temp, "trainer_state.json"), State.ToJson());
            File.WriteAllText(Path.Combine(temp, "training_args.json"), TrainingArgumentsJson());
        });
        _lastSavedStep = step;
        foreach (var deleted in _checkpoints.Rotate(_args.SaveTotalLimit, State.BestModelCheckpoint))
            RaiseWarning($"deleted older checkpoint '{deleted}' (save_total_limit={_args.SaveTotalLimit})");
        Saved?.Invoke(this, new TrainerSaveEventArgs(step, folder));
    }

    private void LoadCheckpoint(string folder, int maxSteps, int numTrainEpochs)
    {
        string Required(string name)
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path))
                throw new LmException(ErrorCodes.CheckpointInvalid, $"checkpoint '{folder}' has no {name}") { File = folder };
            return path;
        }

        LoadModelWeights(folder);
        string optimizerPath = Required("optimizer.safetensors");
        // Every state file is read and checked before the first one is applied, each failing with its own code.
        var optimizerJson = JsonFields.Read(Required("optimizer.json"), ErrorCodes.OptimizerStateInvalid);
        var schedulerJson = JsonFields.Read(Required("scheduler.json"), ErrorCodes.SchedulerStateInvalid);
        var state = TrainerState.Load(Required("trainer_state.json"));
        var randomJson = JsonFields.Read(Required("rng_state.json"), ErrorCodes.RngStateInvalid);
        var progressJson = JsonFields.Read(Required("trainer_progress.json"), ErrorCodes.TrainerProgressInvalid);
        var tensors = SafeTensorsReader.Read(optimizerPath);
        try
        {
            _optimizer!.LoadStateDict(tensors, optimizerJson.Json, optimizerPath, optimizerJson.File);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
        _scheduler!.Load(schedulerJson.Json, schedulerJson.File);
        // HF's init_training_references: the totals come from this run's arguments.
        state.MaxSteps = maxSteps;
        state.NumTrainEpochs = numTrainEpochs;
        State = state;
        RestoreRandomState(randomJson);
        RestoreProgress(progressJson);
        _lastSavedStep = State.GlobalStep;
    }

    /// <summary>
    /// Copies the weights of <c>folder/model.safetensors</c> into the model (by HF name); for a LoRA run the
    /// adapter's parameters from <c>adapter_model.safetensors</c> (by PEFT's key).
    /// </summary>
    private void LoadModelWeights(string folder)
    {
        string file = _options.Adapter is null ? "model.safetensors" : LoraConfig.WeightsFile;
        string path = Path.Combine(folder, file);
        if (!File.Exists(path)) throw new LmException(ErrorCodes.CheckpointInvalid, $"checkpoint '{folder}' has no {file}") { File = folder };
        var parameters = _options.Adapter is { } adapter
            ? adapter.TrainableNamedParameters().Select(p => (Key: LoraModel.KeyPrefix + p.Name, p.Name, p.Parameter))
            : _model.named_parameters().Select(p => (Key: p.name, Name: p.name, Parameter: p.parameter));
        var weights = SafeTensorsReader.Read(path);
        try
        {
            using var noGrad = no_grad();
            foreach (var (key, name, parameter) in parameters)
            {
                if (!weights.TryGetValue(key, out var value))
                    throw new LmException(ErrorCodes.CheckpointInvalid, $"{path} has no tensor '{key}'") { File = path };
                if (!value.shape.SequenceEqual(parameter.shape))
                    throw new LmException(ErrorCodes.CheckpointInvalid,
                        $"{path}: '{key}' has shape [{string.Join(", ", value.shape)}], the model needs [{string.Join(", ", parameter.shape)}]") { File = path };
                parameter.copy_(value);
                // A bf16 run keeps the file's fp32 values as its master weights.
                _optimizer?.LoadMaster(name, value);
            }
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }

    /// <summary>The model as an HF folder; a bf16 run writes its fp32 master weights.</summary>
    private void WriteModel(string folder)
    {
        Action<LanguageModel, string> save = _options.Adapter is { } adapter
            ? (_, target) => adapter.Save(target)
            : _options.SaveModel ?? ((model, target) => PretrainedModel.Save(model, target, _args.MaxShardSizeBytes));
        if (_modelInBf16)
        {
            _model.to(ScalarType.Float32);
            _optimizer!.CopyMastersTo(_model);
            save(_model, folder);
            _model.to(ScalarType.BFloat16);
            _optimizer.Rebind(_model);
        }
        else
        {
            save(_model, folder);
        }
        _options.SaveTokenizer?.Invoke(folder);
    }

    /// <summary>After training in bf16 the model returns to fp32 with the master weights, as HF's autocast model never left fp32.</summary>
    private void RestoreFp32Model()
    {
        if (!_modelInBf16) return;
        _model.to(ScalarType.Float32);
        _optimizer!.CopyMastersTo(_model);
        _optimizer.Rebind(_model);
        _modelInBf16 = false;
    }

    private JsonObject RandomState()
    {
        var json = new JsonObject
        {
            ["cpu"] = Convert.ToBase64String(get_rng_state().bytes),
            ["data_seed"] = _args.EffectiveDataSeed,
        };
        if (_trainData!.GetRandomState() is Tensor collator) json["collator"] = Convert.ToBase64String(collator.bytes);
        return json;
    }

    /// <summary>
    /// Restores the generators' states. libtorch aborts the process (not an exception) on a state of the wrong size,
    /// so each is checked against the size of the state it replaces first.
    /// </summary>
    private void RestoreRandomState(JsonFields json)
    {
        byte[] cpu = RandomStateBytes(json, "cpu", get_rng_state().bytes.Length)
            ?? throw json.Error("cpu", "is missing (the CPU generator's state)");
        byte[]? collator = null;
        if (json.Has("collator"))
        {
            using var current = _trainData!.GetRandomState();
            collator = current is null ? null : RandomStateBytes(json, "collator", current.bytes.Length);
        }
        using (var state = tensor(cpu, ScalarType.Byte)) set_rng_state(state);
        if (collator is not null)
        {
            using var state = tensor(collator, ScalarType.Byte);
            _trainData!.SetRandomState(state);
        }
    }

    /// <summary>
    /// A generator state from rng_state.json, checked as libtorch's <c>set_state</c> checks it (size, then
    /// mt19937's <c>is_valid</c>: seeded, 1 ≤ left ≤ 624, next ≤ 624), because libtorch refuses a bad one with a C++
    /// exception that aborts the process.
    /// </summary>
    internal static byte[]? RandomStateBytes(JsonFields json, string key, long expectedLength)
    {
        if (json.String(key) is not string text) return null;
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw json.Error(key, "must be base64 text");
        }
        if (bytes.Length != expectedLength)
            throw json.Error(key, $"holds {bytes.Length} bytes; a generator state of this libtorch has {expectedLength}");
        // CPUGeneratorImplState starts with the legacy THGeneratorState: seed (8 bytes), left, seeded, next.
        const int MersenneStateWords = Mt19937.StateWords;
        if (bytes.Length >= CpuGeneratorState.StateOffset)
        {
            int left = CpuGeneratorState.Left(bytes);
            int seeded = CpuGeneratorState.Seeded(bytes);
            ulong next = CpuGeneratorState.Next(bytes);
            // libtorch's engine takes left - 1 more words from state[next] on before it regenerates: a state past that
            // would make it read beyond its 624 words (set_state checks each field alone, not their sum).
            if (seeded == 0 || left < 1 || left > MersenneStateWords || next > MersenneStateWords
                || (long)next + left - 1 > MersenneStateWords)
                throw json.Error(key, $"is not a valid Mersenne Twister state (left {left}, next {next}, seeded {seeded})");
        }
        return bytes;
    }

    /// <summary>The loop's running sums, so that logs after a resume equal those of an uninterrupted run.</summary>
    private JsonObject Progress() => new()
    {
        ["global_step"] = State.GlobalStep,
        ["tr_loss"] = _trLoss,
        ["total_loss_scalar"] = _totalLossScalar,
        ["globalstep_last_logged"] = _globalStepLastLogged,
        ["early_stopping_patience_counter"] = _earlyStoppingCounter,
        ["grad_norm"] = _gradNorm,
        ["learning_rate"] = _learningRate,
        ["epoch_end_pending"] = _epochEndPending,
        ["should_training_stop"] = _control.ShouldTrainingStop,
    };

    private void RestoreProgress(JsonFields json)
    {
        _trLoss = (float)(json.Double("tr_loss", finite: true) ?? 0);
        _totalLossScalar = json.Double("total_loss_scalar", finite: true) ?? 0;
        _globalStepLastLogged = json.Int("globalstep_last_logged", min: 0, max: State.GlobalStep) ?? State.GlobalStep;
        _earlyStoppingCounter = json.Int("early_stopping_patience_counter", min: 0) ?? 0;
        _gradNorm = (float?)json.Double("grad_norm");
        _learningRate = json.Double("learning_rate", min: 0, finite: true);
        _epochEndPending = json.Bool("epoch_end_pending") ?? false;
        _control.ShouldTrainingStop = (json.Bool("should_training_stop") ?? false) || State.GlobalStep >= State.MaxSteps;
    }

    private void ResetLoop()
    {
        _trLoss = 0;
        _totalLossScalar = 0;
        _globalStepLastLogged = 0;
        _currentFlos = 0;
        _earlyStoppingCounter = 0;
        _lastSavedStep = -1;
        _gradNorm = null;
        _learningRate = null;
        _epochEndPending = false;
        _control.ShouldTrainingStop = false;
        _control.NewStep();
    }

    /// <summary>HF's <c>stateful_callbacks</c>: the TrainerControl flags and, with early stopping, its counter.</summary>
    private JsonObject StatefulCallbacks()
    {
        var callbacks = new JsonObject
        {
            ["TrainerControl"] = new JsonObject
            {
                ["args"] = new JsonObject
                {
                    ["should_epoch_stop"] = _control.ShouldEpochStop,
                    ["should_evaluate"] = _control.ShouldEvaluate,
                    ["should_log"] = _control.ShouldLog,
                    ["should_save"] = _control.ShouldSave,
                    ["should_training_stop"] = _control.ShouldTrainingStop,
                },
                ["attributes"] = new JsonObject(),
            },
        };
        if (_args.EarlyStoppingPatience is int patience)
        {
            callbacks["EarlyStoppingCallback"] = new JsonObject
            {
                ["args"] = new JsonObject
                {
                    ["early_stopping_patience"] = patience,
                    ["early_stopping_threshold"] = TrainerState.PythonFloat(_args.EarlyStoppingThreshold),
                },
                ["attributes"] = new JsonObject { ["early_stopping_patience_counter"] = _earlyStoppingCounter },
            };
        }
        return callbacks;
    }

    /// <summary>
    /// HF pickles the arguments to training_args.bin; lm-tune writes them as JSON with HF's names, the token hidden as
    /// HF's <c>to_dict()</c> hides every <c>*_token</c> (<c>"&lt;HUB_TOKEN&gt;"</c>): these files are pushed and shared.
    /// </summary>
    private string TrainingArgumentsJson() => PythonJson.Serialize(ArgumentsJson()) + "\n";

    /// <summary>The arguments under HF's names with the token hidden (training_args.json, TensorBoard's "args" text).</summary>
    private JsonNode ArgumentsJson()
    {
        var json = JsonSerializer.SerializeToNode(_args, new JsonSerializerOptions { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never })!;
        json["hub_token"] = "<HUB_TOKEN>";
        return json;
    }
}
