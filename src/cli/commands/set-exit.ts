/** How a command reports its exit code to the program (which alone exits). */
export type SetExit = (code: number) => void;
