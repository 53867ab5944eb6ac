# The code pyarthas's ptrace injector places in the target (x86-64 System V, Linux).
# Assembled once by hand; its bytes live in ptrace_inject.py (TRAMPOLINE), which a test re-checks
# against this file when an assembler is available:  as --64 -o t.o trampoline.S && objcopy -O binary t.o t.bin
#
# The injector stops one thread and only changes its rip, rsp, rax (and orig_rax = -1, so the kernel does
# not restart an interrupted syscall behind our back). Everything else is saved and restored HERE, inside
# the target, so the thread comes back intact even if the injector dies right after setting the registers.
#
# On entry: rsp = F = original rsp - 144 (below the interrupted function's 128-byte red zone);
#   [F] = where to resume (the original rip, or the syscall instruction to restart it);
#   rax = the value rax must hold when resuming.
# The injector wrote a data block just below the 128 bytes this code pushes (rbp = F - 128):
#   [rbp-8]  mode: 0 = run now on this thread (it sits in a blocking syscall with the GIL released),
#                  1 = schedule with Py_AddPendingCall (the thread may be anywhere)
#   [rbp-16] PyGILState_Ensure   [rbp-24] PyRun_SimpleString   [rbp-32] PyGILState_Release
#   [rbp-40] Py_AddPendingCall   [rbp-48] length of the code, NUL included
#   [rbp-56] address of the code (a C string on this stack)
#   [rbp-64] address of a zeroed, 64-byte aligned XSAVE area (3072 bytes)
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
        mov rsp, [rbp-64]
        mov eax, 0xe7              # x87, SSE, AVX, AVX-512 state: all a C call may clobber
        xor edx, edx
        xsave [rsp]
        cld
        cmp qword ptr [rbp-8], 0
        jne schedule
run_now:
        call [rbp-16]              # PyGILState_Ensure()
        mov ebx, eax
        mov rdi, [rbp-56]
        call [rbp-24]              # PyRun_SimpleString(code)
        mov edi, ebx
        call [rbp-32]              # PyGILState_Release(state)
        jmp restore
schedule:
        mov eax, 9                 # mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0):
        xor edi, edi               # the code must outlive this stack frame
        mov rsi, [rbp-48]
        mov edx, 3
        mov r10d, 0x22
        mov r8, -1
        xor r9d, r9d
        syscall
        cmp rax, -4096
        ja restore                 # no memory: give up quietly, the injector times out and says so
        mov rbx, rax
        mov rdi, rax
        mov rsi, [rbp-56]
        mov rcx, [rbp-48]
        rep movsb
        mov rdi, [rbp-24]          # Py_AddPendingCall(PyRun_SimpleString, copy)
        mov rsi, rbx
        call [rbp-40]
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
        ret 136                    # rip = [F], rsp = F + 144 = the original rsp, in one instruction
