import type { DriverTarget } from './driver-target.js';
import { networkTargets } from './network-targets.js';
import { posixTarget } from './posix-target.js';

export const DRIVER_TARGETS: readonly DriverTarget[] = [posixTarget, ...networkTargets];
