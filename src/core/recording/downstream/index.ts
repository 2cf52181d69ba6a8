import type { ServerSpec } from '../../config/servers';
import type { FrameChannel } from '../channel';
import type { ConnectionRecorder } from '../recorder';
import { StdioChildChannel } from './stdio';
import { RemoteClientChannel } from './remote';

/** Opens the server side of one connection, for any configured transport. */
export function openDownstream(spec: ServerSpec, connection: ConnectionRecorder): FrameChannel {
  if (spec.type === 'stdio') return new StdioChildChannel(spec, connection);
  return new RemoteClientChannel(spec, connection);
}
