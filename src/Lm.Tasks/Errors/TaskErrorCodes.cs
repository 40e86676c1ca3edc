// The tasks report the LM2xxx codes of the one error table (src/Shared/Errors/ErrorCodes.MsBuild.cs, compiled into this
// assembly because the tasks must not load Lm.Runtime); TaskErrorCodes is the tasks' name for it.
global using TaskErrorCodes = Lm.Runtime.Errors.ErrorCodes;

namespace Lm.Tasks.Errors;
