// Every subcommand of `bitnet-lab`, in the order --help lists them. Each lives in its own module.
import type {Command} from "./command.js";
import {cost} from "./cost.js";
import {inspect} from "./inspect.js";
import {generateCommand} from "./generate.js";
import {logits} from "./logits.js";
import {embed} from "./embed.js";
import {train} from "./train.js";
import {verify} from "./verify.js";
import {bench} from "./bench.js";
import {convert} from "./convert.js";

export const commands: Command[] = [inspect, generateCommand, logits, embed, convert, cost, train, verify, bench];
