// The typed tRPC hooks of the console: the SDK's router type through TanStack Query.
import type { AppRouter } from "@capy/sdk";
import { createTRPCContext } from "@trpc/tanstack-react-query";

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
