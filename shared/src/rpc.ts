/**
 * The one place grpc-js service definitions are built from protobuf-es descriptors, with typed
 * handler and client shapes. Import from `@outpost/shared/rpc` (Node only).
 */
import {
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf'
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2'
import * as grpc from '@grpc/grpc-js'

type AnyMethod = GenServiceMethods[string]
type In<M extends AnyMethod> = MessageShape<M['input']>
type Out<M extends AnyMethod> = MessageShape<M['output']>

export type ServerHandler<M extends AnyMethod> = M['methodKind'] extends 'unary'
  ? grpc.handleUnaryCall<In<M>, Out<M>>
  : M['methodKind'] extends 'server_streaming'
    ? grpc.handleServerStreamingCall<In<M>, Out<M>>
    : M['methodKind'] extends 'client_streaming'
      ? grpc.handleClientStreamingCall<In<M>, Out<M>>
      : grpc.handleBidiStreamingCall<In<M>, Out<M>>

export type ServiceHandlers<S extends GenServiceMethods> = { [K in keyof S]: ServerHandler<S[K]> }

export type ClientMethod<M extends AnyMethod> = M['methodKind'] extends 'unary'
  ? (request: In<M>, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>) => Promise<Out<M>>
  : M['methodKind'] extends 'bidi_streaming'
    ? (metadata: grpc.Metadata, options?: Partial<grpc.CallOptions>) => grpc.ClientDuplexStream<In<M>, Out<M>>
    : never

export type ServiceClient<S extends GenServiceMethods> = { [K in keyof S]: ClientMethod<S[K]> } & {
  close(): void
  raw: grpc.Client
}

function serializer<D extends DescMessage>(desc: D) {
  return {
    serialize: (value: MessageShape<D>) => Buffer.from(toBinary(desc, value)),
    deserialize: (bytes: Buffer) => fromBinary(desc, bytes),
  }
}

export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {}
  for (const method of service.methods) {
    const input = serializer(method.input)
    const output = serializer(method.output)
    def[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.name,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: input.serialize as (v: unknown) => Buffer,
      requestDeserialize: input.deserialize,
      responseSerialize: output.serialize as (v: unknown) => Buffer,
      responseDeserialize: output.deserialize,
    }
  }
  return def
}

export function addService<S extends GenServiceMethods>(
  server: grpc.Server,
  service: GenService<S>,
  handlers: ServiceHandlers<S>,
): void {
  server.addService(grpcServiceDefinition(service), handlers as unknown as grpc.UntypedServiceImplementation)
}

export function createClient<S extends GenServiceMethods>(
  service: GenService<S>,
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
): ServiceClient<S> {
  const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(service), service.typeName)
  const raw = new Ctor(address, credentials, options) as unknown as grpc.Client &
    Record<string, (...args: unknown[]) => unknown>
  const client: Record<string, unknown> = { raw, close: () => raw.close() }
  for (const method of service.methods) {
    const call = raw[method.localName] as (...args: unknown[]) => unknown
    if (method.methodKind === 'unary') {
      client[method.localName] = (
        request: unknown,
        metadata: grpc.Metadata,
        options: Partial<grpc.CallOptions>,
      ) =>
        new Promise((resolve, reject) => {
          call.call(raw, request, metadata, options, (error: grpc.ServiceError | null, response: unknown) =>
            error ? reject(error) : resolve(response),
          )
        })
    } else {
      client[method.localName] = (...args: unknown[]) => call.apply(raw, args)
    }
  }
  return client as ServiceClient<S>
}
