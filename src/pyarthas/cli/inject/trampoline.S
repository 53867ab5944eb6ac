# The code pyarthas's ptrace injector places in the target (x86-64 System V, Linux).
# Assembled once by hand; its bytes live in ptrace_inject.py (TRAMPOLINE), which a test re-checks
# against this file when an assembler is available:  as --64 -o t.o trampoline.S && objcopy -O binary t.o t.bin
#
# The injector stops one thread and only changes its rip, rsp, rax (and orig_rax = -1, so the kernel does
# not restart an interrupted syscall behind our back). Everything else is saved and restored HERE, inside
# the target, so the thread comes back intact even if the injector dies right after setting the registers.
# On entry: rsp = E, rip = trampoline, rax = the value rax must hold when resuming; everything the
# injector wrote lies at E and above, so nothing the kernel pushes below rsp (a signal frame, if a signal
# arrives while this runs) can overwrite it:
#   [E]      F = original rsp - 144 (below the interrupted function's 128-byte red zone)
#   [E+8]    mode: 0 = run now on this thread (it sits in a blocking system call with the GIL released),
#                  1 = schedule with Py_AddPendingCall (the thread may be anywhere)
#   [E+16] PyGILState_Ensure   [E+24] PyRun_SimpleString   [E+32] PyGILState_Release
#   [E+40] Py_AddPendingCall   [E+48] length of the code, NUL included   [E+56] address of the code
#   [E+64] Py_IsInitialized (nothing is done in an interpreter not yet, or no longer, running)
#   [F]      where to resume: the original rip, or the syscall instruction when it must be restarted
        .intel_syntax noprefix
        .text
        .globl trampoline
trampoline:
        pushfq
        push rax
        push rbx
        push rcx
        push rdx
        push rsi
        push rdi
        push rbp
        push r8
        push r9
        push r10
        push r11
        push r12
        push r13
        push r14
        push r15
        mov rbp, rsp
        lea r12, [rbp+136]         # the data block at E+8
        and rsp, -64
        sub rsp, 3072              # XSAVE area: x87, SSE, AVX, AVX-512 state (2688 bytes)
        cld
        xor eax, eax
        lea rdi, [rsp+512]
        mov ecx, 8
        rep stosq                  # zero its header, as XRSTOR requires
        mov eax, 0xe7              # all a C call may clobber
        xor edx, edx
        xsave [rsp]
        call [r12+56]              # Py_IsInitialized()
        test eax, eax
        jz restore
        cmp qword ptr [r12], 0
        jne schedule
run_now:
        call [r12+8]               # PyGILState_Ensure()
        mov r13d, eax
        mov rdi, [r12+48]
        call [r12+16]              # PyRun_SimpleString(code)
        mov edi, r13d
        call [r12+24]              # PyGILState_Release(state)
        jmp restore
schedule:
        mov eax, 9                 # mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0):
        xor edi, edi               # the code must outlive this stack frame
        mov rsi, [r12+40]
        mov edx, 3
        mov r10d, 0x22
        mov r8, -1
        xor r9d, r9d
        syscall
        cmp rax, -4096
        ja restore                 # no memory: give up quietly, the injector times out and says so
        mov r13, rax
        mov rdi, rax
        mov rsi, [r12+48]
        mov rcx, [r12+40]
        rep movsb
        mov rdi, [r12+16]          # Py_AddPendingCall(PyRun_SimpleString, copy)
        mov rsi, r13
        call [r12+32]
restore:
        mov eax, 0xe7
        xor edx, edx
        xrstor [rsp]
        mov rsp, rbp
        pop r15
        pop r14
        pop r13
        pop r12
        pop r11
        pop r10
        pop r9
        pop r8
        pop rbp
        pop rdi
        pop rsi
        pop rdx
        pop rcx
        pop rbx
        pop rax
        popfq
        pop rsp                    # rsp = F
        ret 136                    # rip = [F], rsp = F + 144 = the original rsp, in one instruction
