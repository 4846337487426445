// Every subcommand of `bitnet-lab`, in the order --help lists them. Each lives in its own module.
import type {Command} from "./command.js";
import {cost} from "./cost.js";

export const commands: Command[] = [cost];
